"""Directories a build left behind, whatever they hold: measured without following links and
removed without being fooled by read-only modes or depth (pure file-system helpers)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from bot.errors import SandboxError

__all__ = ["disk_usage", "wipe"]


def disk_usage(root: Path) -> int:
    """Bytes on disk under `root`, symlinks not followed, hard links counted once
    (iterative: a build may leave arbitrarily deep trees)."""
    total, seen, stack = 0, set(), [str(root)]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                if info.st_nlink > 1 and (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
    return total


def wipe(path: Path) -> None:
    """Remove a directory a build left, whatever it holds: moved aside first, then deleted
    (made writable where needed; `rm -rf` for trees too deep for shutil)."""
    if not os.path.lexists(path):
        return
    trash = path
    if not path.name.startswith(".trash-"):
        trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
        os.rename(path, trash)
    try:
        shutil.rmtree(trash, onerror=_make_writable_and_retry)
    except (OSError, RecursionError):
        subprocess.run(["chmod", "-R", "u+rwX", "--", str(trash)], check=False, timeout=600)
        subprocess.run(
            ["rm", "-rf", "--one-file-system", "--", str(trash)], check=False, timeout=600
        )
    if os.path.lexists(trash):
        raise SandboxError(f"could not remove the old environment directory {trash}")


def _make_writable_and_retry(function: Callable[[str], object], name: str, _info: object) -> None:
    os.chmod(os.path.dirname(name), 0o700)
    function(name)

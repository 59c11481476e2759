"""Directories a build left behind, whatever they hold: measured without following links and
removed without being fooled by read-only modes or depth (pure file-system helpers)."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.trees import Cursor, delete_tree, walk_tree

__all__ = ["disk_usage", "wipe"]


def disk_usage(root: Path) -> int:
    """Bytes on disk under `root`, symlinks not followed, hard links counted once, at any
    depth (one directory descriptor at a time: sandbox/trees.py)."""
    total, seen = 0, set()

    def visit(cursor: Cursor, entries: list[os.DirEntry[str]]) -> list[str]:
        nonlocal total
        subdirs = []
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if info.st_nlink > 1 and (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    subdirs.append(entry.name)
        return subdirs

    with contextlib.suppress(OSError):
        walk_tree(root, visit)
    return total


def wipe(path: Path) -> None:
    """Remove a directory a build left, whatever it holds: moved aside first, then deleted
    (any depth, read-only modes, links and special files: sandbox/trees.py)."""
    if not os.path.lexists(path):
        return
    trash = path
    if not path.name.startswith(".trash-"):
        trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
        os.rename(path, trash)
    try:
        delete_tree(trash)
    except OSError as exc:
        raise SandboxError(f"could not remove the old environment directory {trash}") from exc

"""Directories a build left behind, whatever they hold: measured without following links,
stripped of set-id bits, and removed without being fooled by read-only modes or depth (pure
file-system helpers)."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.trees import Cursor, delete_tree, walk_tree

__all__ = ["disk_usage", "live_usage", "move_aside", "strip_set_id", "wipe"]

_SET_ID = stat.S_ISUID | stat.S_ISGID
_MIN_ENTRY_BYTES = 4096


def disk_usage(root: Path) -> int:
    """Bytes on disk under `root` (at least a block per entry), symlinks not followed, hard
    links counted once, at any depth (one directory descriptor at a time: sandbox/trees.py);
    what is unreadable is made readable to be counted."""
    return _usage([root], take_back=True)


def live_usage(roots: Sequence[Path], stop: threading.Event | None = None) -> int:
    """Bytes on disk under `roots` (a hard link shared between them counted once) while a
    sandbox may be writing there: nothing is changed, an unreadable directory is skipped,
    a root whose walk a concurrent rename broke counts what was seen before; `stop` set
    ends the walk early (its caller has gone)."""
    return _usage(roots, take_back=False, stop=stop)


def _usage(roots: Sequence[Path], *, take_back: bool, stop: threading.Event | None = None) -> int:
    total, seen = 0, set()

    def visit(cursor: Cursor, entries: list[os.DirEntry[str]]) -> list[str]:
        nonlocal total
        if stop is not None and stop.is_set():
            raise InterruptedError("the walk was stopped")
        subdirs = []
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if info.st_nlink > 1 and (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                # Every entry costs at least a block (a short link or an empty file has none
                # of its own, yet takes an inode and, once committed, a loose object).
                total += max(info.st_blocks * 512, _MIN_ENTRY_BYTES)
                if stat.S_ISDIR(info.st_mode):
                    subdirs.append(entry.name)
        return subdirs

    for root in roots:
        with contextlib.suppress(OSError):
            walk_tree(root, visit, take_back=take_back)
    return total


def strip_set_id(root: Path) -> None:
    """Clear the setuid and setgid bits of every file and directory under `root`: a build
    ran as the worker's user (root, on some hosts), and a set-id program it left would run
    with that user's rights for anyone on the host who can reach it. Only while nothing
    runs in the tree: a name seen as a file or directory (never a link) is still one."""

    def visit(cursor: Cursor, entries: list[os.DirEntry[str]]) -> list[str]:
        subdirs = []
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            kind = stat.S_IFMT(info.st_mode)
            if kind == stat.S_IFDIR:
                subdirs.append(entry.name)
            if info.st_mode & _SET_ID and kind in (stat.S_IFREG, stat.S_IFDIR):
                mode = stat.S_IMODE(info.st_mode) & ~_SET_ID
                os.chmod(entry.name, mode, dir_fd=cursor.fd)
        return subdirs

    walk_tree(root, visit)


def move_aside(path: Path) -> Path | None:
    """Rename `path` to a `.trash-` sibling (one atomic step: a new build may start at `path`
    right after); the new name, or None when nothing was there."""
    if not os.path.lexists(path):
        return None
    if path.name.startswith(".trash-"):
        return path
    trash = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
    os.rename(path, trash)
    return trash


def wipe(path: Path) -> None:
    """Remove a directory a build left, whatever it holds: moved aside first, then deleted
    (any depth, read-only modes, links and special files: sandbox/trees.py)."""
    trash = move_aside(path)
    if trash is None:
        return
    try:
        delete_tree(trash)
    except OSError as exc:
        raise SandboxError(f"could not remove the old environment directory {trash}") from exc

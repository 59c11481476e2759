"""The host's hands on directory trees a sandbox wrote: walked and deleted one directory
descriptor at a time, whatever their depth, modes, links or special files.

A sandboxed command can leave a directory chain thousands of levels deep (a recursive walk
raises RecursionError; a path-based one meets ENAMETOOLONG past PATH_MAX), directories without
permissions, FIFOs, sockets and links. Walks here keep one directory descriptor open (the way
back up is `..`, checked against the device and inode seen on the way down) and a list of
names: no recursion, no long paths, no link followed, no special file opened.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import FileRefused
from bot.sandbox.files import open_parent

__all__ = ["Cursor", "delete_at", "delete_tree", "remove_below", "walk_tree"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class _Level:
    name: str
    identity: tuple[int, int]  # (st_dev, st_ino) of the directory above it


@dataclass
class Cursor:
    """One open directory deep in a tree and the way back up: one descriptor whatever the
    depth, never a path longer than one name, never a link followed."""

    fd: int
    trail: list[_Level] = field(default_factory=list)
    take_back: bool = True  # make unreadable directories readable (never while code runs)

    def relative(self, name: str) -> str:
        """`name` in the cursor's directory, as a path from the top of the walk."""
        return "/".join([*(level.name for level in self.trail), name])

    def down(self, name: str) -> None:
        if self.take_back:
            child = _open_child(self.fd, name)
        else:
            child = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        self.trail.append(_Level(name, _identity(self.fd)))
        os.close(self.fd)
        self.fd = child

    def up(self) -> str:
        """Back to the parent; the name of the directory left."""
        parent = os.open("..", _DIR_FLAGS, dir_fd=self.fd)
        level = self.trail.pop()
        if _identity(parent) != level.identity:
            os.close(parent)
            raise OSError(errno.ESTALE, "a directory was moved during the walk")
        os.close(self.fd)
        self.fd = parent
        return level.name


# What a walk does in one directory: called with the cursor (at that directory) and its
# entries; returns the names of the subdirectories to visit.
Visit = Callable[[Cursor, list[os.DirEntry[str]]], list[str]]
# Called in a directory once one of its subdirectories (named) was fully visited.
Left = Callable[[Cursor, str], None]


def walk_tree(top: Path, visit: Visit, left: Left | None = None, *, take_back: bool = True) -> None:
    """Visit every directory of the tree at `top` (pre-order), never following a link.

    Iterative, with one open descriptor at a time: `visit` sees each directory once, and
    `left` (post-order) may remove a subdirectory once it was visited. Without `take_back`
    (a tree a sandbox may be writing right now: a name checked as a directory may be a link
    by the time it is chmod-ed) nothing is changed and unreadable directories are skipped.
    """
    _walk(_open_top(top) if take_back else os.open(top, _DIR_FLAGS), visit, left, take_back)


def _walk(fd: int, visit: Visit, left: Left | None, take_back: bool = True) -> None:
    """walk_tree from an open directory descriptor (closed on return)."""
    cursor = Cursor(fd, take_back=take_back)
    try:
        pending = [visit(cursor, _entries(cursor.fd))]  # per level: subdirectories to visit
        while pending:
            if pending[-1]:
                try:
                    cursor.down(pending[-1].pop())
                except FileNotFoundError:  # gone since it was listed
                    continue
                except PermissionError:
                    if take_back:
                        raise
                    continue
                pending.append(visit(cursor, _entries(cursor.fd)))
                continue
            pending.pop()
            if pending:
                name = cursor.up()
                if left is not None:
                    left(cursor, name)
    finally:
        os.close(cursor.fd)


def delete_tree(path: Path) -> None:
    """Delete `path` and everything below it (a missing path is fine): a link or a special file
    is deleted itself, never followed or opened; unwritable directories are made writable.
    Any depth: no recursion and no long paths."""
    path = Path(path)
    try:
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        delete_at(parent, path.name)
    finally:
        os.close(parent)


def remove_below(root: Path, relative: str) -> None:
    """Delete what stands at `relative` below `root` (a file, a link itself, or a directory
    with its contents); nothing is touched when a parent on the way is a link or not a
    directory, so nothing outside `root` can be reached."""
    try:
        parent, name = open_parent(root, relative, create=False)
    except (FileRefused, FileNotFoundError):
        return
    try:
        delete_at(parent, name)
    finally:
        os.close(parent)


def delete_at(parent: int, name: str) -> None:
    """delete_tree for the entry `name` of the directory open at `parent`."""
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        try:
            top = _open_child(parent, name)
        except FileNotFoundError:
            return
        _walk(top, _delete_files, _remove_left)
        _rmdir(parent, name)
    else:
        _unlink(parent, name)


def _remove_left(cursor: Cursor, name: str) -> None:
    _rmdir(cursor.fd, name)


def _delete_files(cursor: Cursor, entries: list[os.DirEntry[str]]) -> list[str]:
    """Unlink every entry of the cursor's directory but its subdirectories; return those."""
    subdirs = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            subdirs.append(entry.name)
        else:
            _unlink(cursor.fd, entry.name)
    return subdirs


def _unlink(parent: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=parent)
    except PermissionError:  # a read-only directory (the sandbox ran as our user: take it back)
        os.chmod(parent, stat.S_IRWXU)
        os.unlink(name, dir_fd=parent)
    except FileNotFoundError:
        pass


def _rmdir(parent: int, name: str) -> None:
    try:
        os.rmdir(name, dir_fd=parent)
    except PermissionError:
        os.chmod(parent, stat.S_IRWXU)
        os.rmdir(name, dir_fd=parent)
    except FileNotFoundError:
        pass


def _open_top(top: Path) -> int:
    try:
        return os.open(top, _DIR_FLAGS)
    except PermissionError:
        os.chmod(top, stat.S_IRWXU)
        return os.open(top, _DIR_FLAGS)


def _open_child(parent: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        # A directory without read or search permission: ours to take back. The name was
        # just seen as a directory, not a link (nothing of the sandbox runs while we walk).
        os.chmod(name, stat.S_IRWXU, dir_fd=parent)
        return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _entries(fd: int) -> list[os.DirEntry[str]]:
    with os.scandir(fd) as listing:
        return list(listing)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino

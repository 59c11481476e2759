"""The host's hands on files a sandbox wrote: opened without blocking and without following a
link, regular files only, reads capped; trees walked and deleted one directory descriptor at a
time, whatever their depth, modes, links or special files.

A sandboxed command can leave a FIFO (an `open` for reading or writing blocks until a peer
comes, forever), a socket, a symbolic link where a file was, a file of any size, or a directory
chain thousands of levels deep (a recursive walk raises RecursionError; a path-based one meets
ENAMETOOLONG past PATH_MAX). So, here:

- every component below the root is opened relative to its parent with O_NOFOLLOW (a link
  anywhere on the way is refused, never followed); a file is checked with lstat before it is
  opened (a special file is never opened) and with fstat after (O_NONBLOCK: opening cannot
  block), and read to a size cap;
- writes go to a new file in the same directory that is then renamed over the old name (never
  through a special file, a link or a hard link);
- walks keep one directory descriptor open (the way back up is `..`, checked against the
  device and inode seen on the way down) and a list of names: no recursion, no long paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bot.errors import FileRefused

__all__ = [
    "Cursor",
    "delete_at",
    "delete_tree",
    "read_regular",
    "remove_below",
    "walk_tree",
    "write_regular",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_CHUNK = 1024 * 1024
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode: int) -> str:
    """What a file of this mode is, in words ("a FIFO")."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


# ---- one file ---------------------------------------------------------------------------------


def read_regular(root: Path, relative: str, max_bytes: int) -> bytes:
    """The bytes of the regular file `relative` below `root`, at most `max_bytes`.

    FileNotFoundError when it is missing, IsADirectoryError for a directory, FileRefused for
    anything else that is not a regular file (never opened), a link on the way, or a file over
    `max_bytes`. Never blocks and never follows a link below `root`.
    """
    parent, name = _open_parent(root, relative, create=False)
    try:
        before = _lstat_regular(parent, name)
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise _refusal(exc) from exc
    finally:
        os.close(parent)
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise FileRefused("was replaced while it was being opened")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"is {kind_of(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise FileRefused(f"is larger than {max_bytes} bytes")
        return _read_capped(fd, max_bytes)
    finally:
        os.close(fd)


def write_regular(root: Path, relative: str, data: bytes, *, make_parents: bool = False) -> bool:
    """Replace (or create) the regular file `relative` below `root` with `data`; True when a
    file stood there before (its permission bits are kept).

    The data goes to a new file in the same directory, renamed over the name: nothing is ever
    written through a link, a hard link or a special file. What stands at the name must be a
    regular file or nothing (IsADirectoryError, FileRefused otherwise). `make_parents` creates
    missing parent directories (never through a link).
    """
    parent, name = _open_parent(root, relative, create=make_parents)
    try:
        try:
            old: os.stat_result | None = _lstat_regular(parent, name)
        except FileNotFoundError:
            old = None
        temporary = f".{name[:64]}.{uuid.uuid4().hex}.tmp"
        fd = os.open(temporary, _NEW_FILE_FLAGS, 0o666, dir_fd=parent)
        try:
            try:
                if old is not None:
                    os.fchmod(fd, stat.S_IMODE(old.st_mode))
                _write_all(fd, data)
            finally:
                os.close(fd)
            os.rename(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=parent)
            raise
        return old is not None
    finally:
        os.close(parent)


def _open_parent(root: Path, relative: str, *, create: bool) -> tuple[int, str]:
    """A descriptor of the directory holding `relative`, and its last name."""
    parts = PurePosixPath(relative).parts
    if not parts or any(part in ("/", ".", "..") for part in parts):
        raise FileRefused("is not a path below the root")
    return _open_dirs(root, parts[:-1], create=create), parts[-1]


def _open_dirs(root: Path, parts: Sequence[str], *, create: bool = False) -> int:
    """root/parts…, each component opened relative to the one before, links never followed."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise FileRefused("has a parent that is a link or not a directory") from exc
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lstat_regular(parent: int, name: str) -> os.stat_result:
    info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"is {kind_of(info.st_mode)}, not a regular file")
    return info


def _refusal(exc: OSError) -> OSError | FileRefused:
    if exc.errno == errno.ELOOP:
        return FileRefused("is a symbolic link")
    if exc.errno in (errno.ENXIO, errno.ENODEV):
        return FileRefused("is not a regular file")
    return exc


def _read_capped(fd: int, max_bytes: int) -> bytes:
    chunks, size = [], 0
    while chunk := os.read(fd, min(_READ_CHUNK, max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:  # it grew after fstat
            raise FileRefused(f"is larger than {max_bytes} bytes")
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ---- trees ------------------------------------------------------------------------------------


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

    def relative(self, name: str) -> str:
        """`name` in the cursor's directory, as a path from the top of the walk."""
        return "/".join([*(level.name for level in self.trail), name])

    def down(self, name: str) -> None:
        child = _open_child(self.fd, name)
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


def walk_tree(top: Path, visit: Visit, left: Left | None = None) -> None:
    """Visit every directory of the tree at `top` (pre-order), never following a link.

    Iterative, with one open descriptor at a time: `visit` sees each directory once, and
    `left` (post-order) may remove a subdirectory once it was visited.
    """
    _walk(_open_top(top), visit, left)


def _walk(fd: int, visit: Visit, left: Left | None) -> None:
    """walk_tree from an open directory descriptor (closed on return)."""
    cursor = Cursor(fd)
    try:
        pending = [visit(cursor, _entries(cursor.fd))]  # per level: subdirectories to visit
        while pending:
            if pending[-1]:
                try:
                    cursor.down(pending[-1].pop())
                except FileNotFoundError:  # gone since it was listed
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
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        delete_at(parent, path.name)
    finally:
        os.close(parent)


def remove_below(root: Path, relative: str) -> None:
    """Delete what stands at `relative` below `root` (a file, a link itself, or a directory
    with its contents); nothing is touched when a parent on the way is a link or not a
    directory, so nothing outside `root` can be reached."""
    try:
        parent, name = _open_parent(root, relative, create=False)
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

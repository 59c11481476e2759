"""The host's hands on one file a sandbox wrote: opened without blocking and without following
a link, regular files only, reads capped, writes by rename (trees: sandbox/trees.py).

A sandboxed command can leave a FIFO (an `open` for reading or writing blocks until a peer
comes, forever), a socket, a symbolic link where a file was, or a file of any size. So, here:

- every component below the root is opened relative to its parent with O_NOFOLLOW (a link
  anywhere on the way is refused, never followed); a file is checked with lstat before it is
  opened (a special file is never opened) and with fstat after (O_NONBLOCK: opening cannot
  block), and read to a size cap;
- writes go to a new file in the same directory that is then renamed over the old name (never
  through a special file, a link or a hard link).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bot.errors import FileRefused

__all__ = ["kind_of", "open_parent", "read_regular", "write_regular"]

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


def read_regular(root: Path, relative: str, max_bytes: int) -> bytes:
    """The bytes of the regular file `relative` below `root`, at most `max_bytes`.

    FileNotFoundError when it is missing, IsADirectoryError for a directory, FileRefused for
    anything else that is not a regular file (never opened), a link on the way, or a file over
    `max_bytes`. Never blocks and never follows a link below `root`.
    """
    parent, name = open_parent(root, relative, create=False)
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
    parent, name = open_parent(root, relative, create=make_parents)
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


def open_parent(root: Path, relative: str, *, create: bool) -> tuple[int, str]:
    """A descriptor of the directory holding `relative` (never reached through a link), and
    its last name; FileRefused for a link or a non-directory on the way."""
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

"""Work directories that outlive no process: each is held under an flock for its lifetime, so
whatever a killed process left (a setup's worktree and scratch, an agent's or a test round's
worktree, a proxy's socket directory) is found and deleted by the next sweep.

    async with held_dir(parent / "setup-1a2b"):   # made fresh; deleted on exit
        ...

Beside each directory `<name>` is its lock file `<name>.held`, locked exclusively while the
directory is in use. The kernel releases an flock when its process dies, however it dies
(SIGKILL, the OOM killer), and flock works across processes sharing the directory, so a lock
that can be taken means nobody uses the directory any more. `sweep_abandoned(parent)` deletes
every such directory of `parent` whose lock it can take (one descriptor at a time, never
following a link: bot/sandbox/trees.py) and returns them; a directory in use is never
touched. A sweep holds the lock while it deletes, so no holder can start meanwhile.

Lock files may be unlinked (by a holder on exit, by a sweep): a locker checks that the file
it locked is still the one at the path and retries otherwise (as bot/sandbox/env_cache.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.trees import delete_tree

__all__ = ["held_dir", "private_dir", "sweep_abandoned", "sweep_abandoned_below"]

LOCK_SUFFIX = ".held"  # not ".lock": no other lock file is taken for one
_POLL_SECONDS = 0.02
log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def held_dir(path: Path) -> AsyncIterator[Path]:
    """`path`, a fresh directory (what a dead holder left there is deleted first), held
    until exit, then deleted with its lock file."""
    fd = await _hold(path)
    try:
        await asyncio.to_thread(delete_tree, path)  # a dead holder's, by the same name
        path.mkdir(mode=0o700)
        try:
            yield path
        finally:
            await _to_the_end(_delete, path)
    finally:
        os.close(fd)  # releases the lock; what is left, the next sweep deletes


def sweep_abandoned(parent: Path) -> list[Path]:
    """Delete the held directories of `parent` that nobody holds any more (blocking I/O);
    the paths deleted. A missing `parent` has none."""
    try:
        names = os.listdir(parent)
    except FileNotFoundError:
        return []
    swept = []
    # Only what has a lock file is a held directory (the lock is made first, unlinked last).
    held = [name.removesuffix(LOCK_SUFFIX) for name in names if name.endswith(LOCK_SUFFIX)]
    for name in sorted(filter(None, held)):
        if _delete_unheld(parent / name):
            swept.append(parent / name)
    return swept


def sweep_abandoned_below(root: Path) -> list[Path]:
    """`sweep_abandoned` in each directory of `root` (e.g. one per run); those left empty
    are removed (a holder about to make one in it retries)."""
    swept = []
    for parent in _subdirectories(root):
        swept += sweep_abandoned(parent)
        with contextlib.suppress(OSError):  # not empty: in use
            parent.rmdir()
    return swept


def private_dir(path: Path) -> Path:
    """`path` as a directory only this user may enter: made 0700 if missing, else checked
    (in a shared /tmp another user may have made it first, or a link in its place)."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        raise SandboxError(f"{path} is not a directory of this user; refusing to use it")
    if found.st_mode & 0o077:
        raise SandboxError(f"{path} is open to other users; refusing to use it")
    return path


async def _hold(path: Path) -> int:
    """The locked descriptor of `path`'s lock file, polled: a sweep may hold it briefly."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = _try_lock(_lock_path(path))
        except FileNotFoundError:  # the parent was swept away empty meanwhile
            continue
        if fd is not None:
            return fd
        await asyncio.sleep(_POLL_SECONDS)


def _delete_unheld(path: Path) -> bool:
    lock = _lock_path(path)
    try:
        fd = _try_lock(lock)
    except FileNotFoundError:
        return False
    if fd is None:
        return False  # in use
    try:
        return _delete(path)
    finally:
        os.close(fd)


def _delete(path: Path) -> bool:
    """Delete a held directory, then its lock file (a failure is logged: the lock file stays,
    and the next sweep tries again)."""
    try:
        delete_tree(path)
        _lock_path(path).unlink(missing_ok=True)
    except OSError:
        log.exception("could not delete %s", path)
        return False
    return True


async def _to_the_end(function: Callable[[Path], object], path: Path) -> None:
    """`function(path)` in a thread, awaited to its end even when cancelled meanwhile (the
    lock must not be released while it still works on the directory)."""
    done = asyncio.ensure_future(asyncio.to_thread(function, path))
    try:
        await asyncio.shield(done)
    finally:
        if not done.done():
            await asyncio.wait([done])


def _try_lock(lock: Path) -> int | None:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino == os.stat(lock, follow_symlinks=False).st_ino:
            return fd  # still the file at the path (a sweep or a holder may have unlinked it)
    except (BlockingIOError, FileNotFoundError):
        pass
    os.close(fd)
    return None


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + LOCK_SUFFIX)


def _is_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _subdirectories(root: Path) -> list[Path]:
    try:
        return [root / name for name in sorted(os.listdir(root)) if _is_directory(root / name)]
    except FileNotFoundError:
        return []

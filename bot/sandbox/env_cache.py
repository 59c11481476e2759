"""Built environments kept per repository on the worker's disk, keyed by what defines them,
built once per key, bounded in size (LRU).

    async with cache.environment(scope, key) as env:
        if not env.ready:
            ...build into env.path...
            await env.mark_complete()
        ...use env.path (read-only from here on)...

Layout under `root` (e.g. BOT_DATA_DIR/envs):

    <scope dir>/<key>            the environment, built at its final path (virtualenvs are
                                 not relocatable)
    <scope dir>/<key>.complete   written last, atomically: {"size": bytes}; mtime = last use
    <scope dir>/<key>.lock       flock: shared while in use (every `environment()` holds
                                 it, builders too), exclusive to evict
    <scope dir>/<key>.build      flock: exclusive while building

A scope (one repository: installation + owner/name) becomes `<slug>-<sha256 prefix>`, so no
scope string can name a path outside its own directory or another scope's. Keys are 64 hex
digits (bot/core/env_key.py). A build that fails, raises or is cancelled is wiped at once
(a key directory without `.complete` is left only by a crashed worker: the next builder or
eviction wipes it). Builders of one key wait for each other (an asyncio lock per
key within the process, the `.build` flock across processes, both polled so a cancelled wait
leaves nothing held) and re-check `.complete` once they hold the lock, so a key is built once.
Eviction removes complete environments, least recently used first, until the total recorded
size is within `max_bytes`, skipping any whose `.lock` it cannot take exclusively (in use), and
removes abandoned incomplete builds. A build may grow to `build_budget` (half of `max_bytes`,
enforced by its sandbox), and before it starts eviction makes that much room (and room for the
builds already running in this process): the cache and the builds under way stay within
`max_bytes` unless what is in use alone exceeds it. The budget covers all a setup writes
(the environment, its worktree and its scratch: bot/sandbox/env_setup.py), so the room
made holds its scratch too, though that lies outside `root`; what a killed setup left there
is not counted but swept (bot/sandbox/held_dirs.py). A finished build's set-id bits are
cleared. A lock file may be unlinked by eviction: lockers check that the file they locked is
still the one at the path, and retry otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import stat
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.env_disk import disk_usage, move_aside, strip_set_id, wipe
from bot.sandbox.trees import delete_tree

__all__ = ["Environment", "EnvironmentCache", "scope_dir_name"]

_KEY = re.compile(r"[0-9a-f]{64}")
_MAX_SCOPE_CHARS = 1000
_TRASH_AGE_S = 600.0


def scope_dir_name(scope: str) -> str:
    """A directory name for `scope` that is safe and unique: a readable slug plus a hash."""
    if not scope or len(scope) > _MAX_SCOPE_CHARS or "\0" in scope:
        raise SandboxError("environment scope must be 1-1000 characters without NUL")
    slug = re.sub(r"[^a-z0-9]+", "-", scope.lower()).strip("-")[:40] or "scope"
    return f"{slug}-{hashlib.sha256(scope.encode()).hexdigest()[:16]}"


@dataclass
class Environment:
    path: Path
    ready: bool
    _on_complete: Callable[[], None] = field(repr=False, default=lambda: None)

    def directory(self, name: str) -> Path:
        """`path/name` (e.g. node_modules), made if missing, checked to be a real directory:
        a build may have replaced it with a symlink to a host path, and bwrap follows a bind
        source's symlinks on the host. Check right before binding, while no untrusted
        process can write the environment."""
        if not name or "/" in name or name in (".", ".."):
            raise SandboxError(f"not a plain directory name: {name!r}")
        target = self.path / name
        with contextlib.suppress(FileExistsError):
            target.mkdir()
        if not stat.S_ISDIR(os.lstat(target).st_mode):
            raise SandboxError(f"{name} in the environment is not a directory; refusing to bind it")
        return target

    async def mark_complete(self) -> None:
        """Record the build as done and let waiting builders of the same key go on and find
        it ready. The walks (set-id bits, size) of a large environment take seconds: they run
        in a thread, never on the worker's event loop, and the build lock stays held until
        the marker is written. Cancelled meanwhile, it still waits for the thread: nothing
        may wipe a directory whose marker is being written."""
        if self.ready:
            return
        written = asyncio.ensure_future(asyncio.to_thread(_write_complete, self.path))
        try:
            await asyncio.shield(written)
        finally:
            if not written.done():
                await asyncio.wait([written])
            if not written.cancelled() and written.exception() is None:
                self.ready = True
                self._on_complete()


class EnvironmentCache:
    def __init__(self, root: Path, *, max_bytes: int, poll_interval_s: float = 0.05) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.poll_interval_s = poll_interval_s
        self._building: dict[Path, asyncio.Lock] = {}
        self._reserved = 0  # the budgets of the builds under way in this process

    @property
    def build_budget(self) -> int:
        """What one build may write (its sandbox stops it past this)."""
        return self.max_bytes // 2

    def path_for(self, scope: str, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise SandboxError("environment key must be 64 lowercase hex digits")
        return self.root / scope_dir_name(scope) / key

    @contextlib.asynccontextmanager
    async def environment(self, scope: str, key: str) -> AsyncIterator[Environment]:
        """The environment for (scope, key), ready or to be built; in use until exit."""
        path = self.path_for(scope, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        use = await self._lock(_sibling(path, ".lock"), fcntl.LOCK_SH)
        try:
            if _sibling(path, ".complete").exists():
                _touch(path)
                yield Environment(path, ready=True)
                return
            async with self._exclusive_build(path) as release:
                environment = await self._claim(path, release)
                building = not environment.ready
                try:
                    yield environment
                finally:
                    if building:
                        self._reserved -= self.build_budget
                        if not environment.ready:  # failed, raised or cancelled
                            await _discard(path)
            if building and environment.ready:
                await self.evict()  # still in use here: never evicts what was just built
        finally:
            os.close(use)

    async def _claim(self, path: Path, release: Callable[[], None]) -> Environment:
        """With the build lock held: the environment if another builder finished it, else
        an empty directory at its final path (whatever a failed build left is wiped)."""
        if _sibling(path, ".complete").exists():
            _touch(path)
            release()
            return Environment(path, ready=True)
        await asyncio.to_thread(wipe, path)
        await self.evict(room=self.build_budget)
        path.mkdir()
        self._reserved += self.build_budget
        return Environment(path, ready=False, _on_complete=release)

    async def evict(self, room: int = 0) -> list[Path]:
        """Remove least recently used environments until they and the builds under way fit
        in max_bytes with `room` to spare; returns them."""
        target = self.max_bytes - room - self._reserved
        return await asyncio.to_thread(self._evict, target)

    @contextlib.asynccontextmanager
    async def _exclusive_build(self, path: Path) -> AsyncIterator[Callable[[], None]]:
        """Hold the key's build locks (in-process, then flock) until exit or `release()`."""
        local = self._building.setdefault(path, asyncio.Lock())
        await local.acquire()
        try:
            fd = await self._lock(_sibling(path, ".build"), fcntl.LOCK_EX)
        except BaseException:
            local.release()
            raise
        held = [True]

        def release() -> None:
            if held[0]:
                held[0] = False
                os.close(fd)
                local.release()

        try:
            yield release
        finally:
            release()

    async def _lock(self, path: Path, mode: int) -> int:
        """An fd of `path` locked with `mode`, polled (never a blocking flock: a cancelled
        wait must not leave a thread that later takes the lock for nobody)."""
        while True:
            fd = _try_lock(path, mode)
            if fd is not None:
                return fd
            await asyncio.sleep(self.poll_interval_s)

    def _evict(self, target: int) -> list[Path]:
        entries = []
        for lock in sorted(self.root.glob("*/*.lock")):
            path = lock.with_suffix("")
            marker = _sibling(path, ".complete")
            try:
                entries.append((marker.stat().st_mtime, _recorded_size(marker), path))
            except FileNotFoundError:
                entries.append((0.0, 0, path))  # never completed: garbage unless in use
        for trash in self.root.glob("*/.trash-*"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - trash.lstat().st_mtime > _TRASH_AGE_S:
                    wipe(trash)  # left by a wipe that was interrupted
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, path in sorted(entries):
            if size and total <= target:
                continue
            if _remove_unused(path):
                removed.append(path)
                total -= size
        return removed


def _try_lock(path: Path, mode: int) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            return fd  # still the file at the path (eviction may have unlinked the old one)
    except (BlockingIOError, FileNotFoundError):
        pass
    os.close(fd)
    return None


def _remove_unused(path: Path) -> bool:
    """Remove the environment at `path` and its files unless it is in use."""
    lock = _sibling(path, ".lock")
    try:
        fd = _try_lock(lock, fcntl.LOCK_EX)
    except FileNotFoundError:
        return False
    if fd is None:
        return False
    try:
        _sibling(path, ".complete").unlink(missing_ok=True)
        wipe(path)
        _sibling(path, ".build").unlink(missing_ok=True)
        lock.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


async def _discard(path: Path) -> None:
    """Remove what a build that did not finish left: renamed at once (the key's next builder
    may start right after), deleted in a thread (a delete cut short leaves a `.trash-`
    directory, which eviction removes)."""
    trash = move_aside(path)
    if trash is not None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(delete_tree, trash)


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _touch(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.utime(_sibling(path, ".complete"))


def _write_complete(path: Path) -> None:
    marker = _sibling(path, ".complete")
    temporary = _sibling(path, f".complete.{uuid.uuid4().hex}")
    strip_set_id(path)
    temporary.write_text(json.dumps({"size": disk_usage(path), "built": time.time()}))
    os.replace(temporary, marker)


def _recorded_size(marker: Path) -> int:
    try:
        return int(json.loads(marker.read_text())["size"])
    except (ValueError, KeyError, TypeError):
        return 0

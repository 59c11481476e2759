"""What a sandbox may do to the worker's disks beyond each file's size: leave at least
`min_free_disk_mb` free on every file system it writes to, and, given a `disk_budget_mb`, add
at most that much under its writable places (the worktree and writable mounts).

The budget is checked by walking those places (bot/sandbox/env_disk.py `live_usage`, which
changes nothing and follows no link) every few seconds; the pause after a walk is at least
ten times the walk, so a tree of millions of files costs at most a tenth of a core. Between two
walks a sandbox can write past the budget at disk speed: the free-space floor (polled every
half second) still holds then.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bot.sandbox.argv import SandboxLimits
from bot.sandbox.env_disk import live_usage

__all__ = ["DiskGuard", "over_budget"]

_FREE_POLL_S = 0.5
_USAGE_POLL_S = 2.0
_WALK_SHARE = 10  # pause after a walk, in multiples of the walk's own time
_MIB = 1024 * 1024


class DiskGuard:
    """The disk limits of one sandbox over `paths`: `start()` before it runs (what is there
    already is not counted), then `broken()` returns why it must stop."""

    def __init__(self, paths: Sequence[Path], limits: SandboxLimits) -> None:
        self.paths = list(paths)
        self.limits = limits
        self.baseline = 0
        self._stop = threading.Event()  # ends a walk still running in its thread

    async def start(self) -> None:
        if self.limits.disk_budget_mb:
            self.baseline = await asyncio.to_thread(live_usage, self.paths, self._stop)

    async def broken(self) -> str:
        """Once a limit is broken, why (the sandbox is then killed); runs until then."""
        guards = [asyncio.create_task(self._until_disk_low())]
        if self.limits.disk_budget_mb:
            guards.append(asyncio.create_task(self._until_grown()))
        try:
            done, _ = await asyncio.wait(guards, return_when=asyncio.FIRST_COMPLETED)
            return done.pop().result()
        finally:
            self._stop.set()
            for guard in guards:
                guard.cancel()
            await asyncio.gather(*guards, return_exceptions=True)

    async def _until_disk_low(self) -> str:
        floor = self.limits.min_free_disk_mb * _MIB
        while True:
            for path in self.paths:
                stats = await asyncio.to_thread(os.statvfs, path)
                if stats.f_bavail * stats.f_frsize < floor:
                    return f"fewer than {self.limits.min_free_disk_mb} MiB were left on the disk"
            await asyncio.sleep(_FREE_POLL_S)

    async def _until_grown(self) -> str:
        budget = self.limits.disk_budget_mb * _MIB
        while True:
            started = time.monotonic()
            used = await asyncio.to_thread(live_usage, self.paths, self._stop)
            if used - self.baseline > budget:
                return over_budget(self.limits.disk_budget_mb)
            walk = time.monotonic() - started
            await asyncio.sleep(max(_USAGE_POLL_S, _WALK_SHARE * walk))


def over_budget(budget_mb: int) -> str:
    """Why a sandbox that wrote more than its disk budget was stopped."""
    return f"the files it wrote grew past {budget_mb} MiB"

"""A sandbox's disk budget: what it adds under its worktree and writable mounts is bounded
(what was there before it started is not counted), and it is stopped with the reason."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import run_sandboxed, sandbox_available
from bot.sandbox.disk_guard import over_budget
from bot.sandbox.mounts import Mount, SandboxEnvironment

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)
# Ten files of 10 MiB, then a long sleep: only the guard can end it early.
WRITER = 'for i in 0 1 2 3 4 5 6 7 8 9; do head -c 10M /dev/zero > "$1/f$i"; done; sleep 60'


async def test_a_sandbox_that_writes_past_its_budget_is_stopped(tmp_path: Path) -> None:
    """30 MiB in a writable mount against a 20 MiB budget: killed within seconds with the
    reason; the 40 MiB already in the worktree before it started did not count."""
    worktree, mounted = tmp_path / "wt", tmp_path / "env"
    worktree.mkdir()
    mounted.mkdir()
    (worktree / "existing").write_bytes(os.urandom(40 * 1024 * 1024))
    environment = SandboxEnvironment((Mount.at_own_path(mounted, writable=True),))
    limits = SandboxLimits(timeout_s=50, disk_budget_mb=20)
    started = time.monotonic()
    command = f"sh -c '{WRITER}' sh {mounted}"
    result = await run_sandboxed(command, worktree, limits=limits, environment=environment)
    assert time.monotonic() - started < 20
    assert result.killed == over_budget(20) == "the files it wrote grew past 20 MiB"
    assert result.exit_code is None and not result.timed_out and not result.passed
    assert result.output.endswith(f"[killed: {result.killed}]")


async def test_within_the_budget_nothing_is_stopped(tmp_path: Path) -> None:
    """A command that writes less than its budget runs to its end."""
    worktree = tmp_path / "wt"
    worktree.mkdir()
    limits = SandboxLimits(timeout_s=50, disk_budget_mb=20)
    result = await run_sandboxed("head -c 5M /dev/zero > blob; echo done", worktree, limits=limits)
    assert result.passed and result.output == "done\n" and result.killed == ""

"""The agents' `run` tool: one shell command in the sandbox, within the agent's time left and
what is left of its worktree's disk allowance."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.agents.tools.fields import field
from bot.errors import ToolError
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import run_sandboxed
from bot.sandbox.env_disk import disk_usage
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment

_MIB = 1024 * 1024


@dataclass
class WorktreeAllowance:
    """How much all of one agent's commands together may add to its worktree: what one
    command leaves (even one that was killed) stays there until the agent ends, so each
    command gets only what the earlier ones left of the allowance."""

    worktree: Path
    budget_mb: int
    baseline: int | None = None  # the worktree's bytes before the agent's first command

    async def left_mb(self) -> int:
        """At least 1: a command that deletes what is no longer needed can always run. No
        command of the agent runs now: the walk takes back what a command made unreadable."""
        used = await asyncio.to_thread(disk_usage, self.worktree)
        if self.baseline is None:
            self.baseline = used
        return max(1, self.budget_mb - max(0, used - self.baseline) // _MIB)


async def run_command(
    worktree: Path,
    tool_input: dict[str, Any],
    limits: SandboxLimits,
    time_left: float | None,
    ro_binds: Sequence[Path] = (),
    environment: SandboxEnvironment = NO_ENVIRONMENT,
    allowance: WorktreeAllowance | None = None,
) -> str:
    """The command's status line and output; its time limit is cut to `time_left`, its disk
    budget to what is left of `allowance`. It runs in the repository's environment
    (read-only), with no network."""
    command = field(tool_input, "command", str, required=True)
    if not command.strip():
        raise ToolError("The command must not be empty.")
    cut_short = False
    if time_left is not None and time_left < limits.timeout_s:
        if time_left <= 0:
            raise ToolError("Not run: the agent's time budget is used up.")
        limits, cut_short = dataclasses.replace(limits, timeout_s=time_left), True
    if allowance is not None:
        limits = dataclasses.replace(limits, disk_budget_mb=await allowance.left_mb())
    result = await run_sandboxed(
        command, worktree, limits=limits, ro_binds=ro_binds, environment=environment
    )
    if result.timed_out:
        status = f"timed out after {round(limits.timeout_s, 1):g} s (killed)"
        if cut_short:
            status += ": the agent's time budget ran out"
    elif result.killed:
        status = f"killed: {result.killed}"
    else:
        status = f"exit code {result.exit_code}"
    return f"{status}\n{result.output}" if result.output else f"{status}\n(no output)"

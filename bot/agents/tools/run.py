"""The agents' `run` tool: one shell command in the sandbox, within the agent's time left."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.agents.tools.fields import field
from bot.errors import ToolError
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import run_sandboxed
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment


async def run_command(
    worktree: Path,
    tool_input: dict[str, Any],
    limits: SandboxLimits,
    time_left: float | None,
    ro_binds: Sequence[Path] = (),
    environment: SandboxEnvironment = NO_ENVIRONMENT,
) -> str:
    """The command's status line and output; its time limit is cut to `time_left`. It runs
    in the repository's environment (read-only), with no network."""
    command = field(tool_input, "command", str, required=True)
    if not command.strip():
        raise ToolError("The command must not be empty.")
    cut_short = False
    if time_left is not None and time_left < limits.timeout_s:
        if time_left <= 0:
            raise ToolError("Not run: the agent's time budget is used up.")
        limits, cut_short = dataclasses.replace(limits, timeout_s=time_left), True
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

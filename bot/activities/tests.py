"""The tests activity: the test command (after the setup command) on the scratch head, in the
sandbox, as one round of the run's reconcile loop.

Whatever the repository's commands do, the outcome is a round: a command that fails, is
killed, or whose sandbox could not even start (SandboxError) makes a failed round saying so.
Only the machinery around it (the forge, the mirror, the worktree) can fail the activity."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.heartbeat import HEARTBEAT_SECONDS, heartbeating
from bot.activities.inputs import TestInput
from bot.activities.workspace import checked_out, workdir
from bot.core.results import TestRound
from bot.errors import GitError, SandboxError
from bot.git.mirror import MirrorCache
from bot.git.worktree import Worktree
from bot.github.forge import Forge
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import CommandResult, run_sandboxed

log = logging.getLogger(__name__)

TEST_OUTPUT_TAIL = 8000


class SandboxedTests:
    def __init__(self, forge: Forge, cache: MirrorCache, work_root: Path) -> None:
        self.forge = forge
        self.cache = cache
        self.work_root = work_root

    @activity.defn
    async def run_tests(self, params: TestInput) -> TestRound:
        """The test command on the scratch head, in the sandbox (setup command first)."""
        path = workdir(
            self.work_root, activity.info().workflow_id or "run", f"tests-r{params.round}"
        )
        limits = SandboxLimits(timeout_s=params.timeout_minutes * 60)
        # Heartbeats from the start: the checkout of a large repository takes its time too.
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                remote = await self.forge.remote(params.target)
                async with checked_out(self.cache, remote, params.branch, path) as tree:
                    try:
                        result, output = await self._run(params, tree.path, limits)
                    finally:
                        await _scrub(tree)
        return TestRound(
            round=params.round,
            command=params.command,
            passed=result.passed,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            duration_s=round(result.duration_s, 2),
            output_tail=output[-TEST_OUTPUT_TAIL:],
        )

    async def _run(
        self, params: TestInput, worktree: Path, limits: SandboxLimits
    ) -> tuple[CommandResult, str]:
        """The command's result and output; a failing setup command is the round's result."""
        if params.setup_command:
            setup = await sandboxed(params.setup_command, worktree, limits)
            if not setup.passed:
                failed = f"setup command failed: {params.setup_command}\n{setup.output}"
                return setup, failed
        result = await sandboxed(params.command, worktree, limits)
        return result, result.output

    def activities(self) -> list[Any]:
        return [self.run_tests]


async def _scrub(tree: Worktree) -> None:
    """Before any host git looks at the worktree again. Only its removal comes, today, which
    deletes the files before git runs in the mirror: a failure here fails no work."""
    try:
        await tree.remove_nested_repos()
    except GitError:
        log.exception("could not clear %s of nested repositories", tree.path)


async def sandboxed(command: str, worktree: Path, limits: SandboxLimits) -> CommandResult:
    """The command's result; a sandbox that could not start is a failed result saying so (a
    retry of the whole round would meet the same sandbox)."""
    try:
        return await run_sandboxed(command, worktree, limits=limits)
    except SandboxError as exc:
        output = f"The sandbox could not run the command: {exc}"
        return CommandResult(
            command=command,
            exit_code=None,
            output=output,
            timed_out=False,
            truncated=False,
            duration_s=0.0,
        )

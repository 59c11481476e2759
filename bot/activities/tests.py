"""The tests activity: the test command on the scratch head, in the sandbox, in the run's
environment, as one round of the run's reconcile loop.

The environment is the default branch's (workflows/before_agents.py), never one built from the
scratch head: its setup would run the agents' code with the network and could fill the cache
that later runs trust. When the head changes what defines the environment, the round says so.

Whatever the repository's commands do, the outcome is a round: a command that fails, is
killed, or whose sandbox could not even start (SandboxError) makes a failed round saying so.
Only the machinery around it (the forge, the mirror, the worktree, an environment this worker
could not rebuild) fails the activity, which is retried."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.environment import Environments, Prepared
from bot.activities.heartbeat import HEARTBEAT_SECONDS, heartbeating
from bot.activities.inputs import TestInput
from bot.activities.workspace import checked_out, workdir
from bot.core.environment import EnvironmentReport, EnvironmentStatus
from bot.core.results import TestRound
from bot.errors import GitError, SandboxError
from bot.git.mirror import MirrorCache
from bot.git.worktree import Worktree
from bot.github.forge import Forge
from bot.render import environment
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import CommandResult, run_sandboxed
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment

log = logging.getLogger(__name__)

TEST_OUTPUT_TAIL = 8000


class SandboxedTests:
    def __init__(
        self,
        forge: Forge,
        cache: MirrorCache,
        work_root: Path,
        environments: Environments | None = None,
    ) -> None:
        self.forge = forge
        self.cache = cache
        self.work_root = work_root
        self.environments = environments

    @activity.defn
    async def run_tests(self, params: TestInput) -> TestRound:
        """The test command on the scratch head, in the sandbox and the head's environment."""
        path = workdir(
            self.work_root, activity.info().workflow_id or "run", f"tests-r{params.round}"
        )
        # Heartbeats from the start: the checkout of a large repository takes its time too.
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                remote = await self.forge.remote(params.target)
                async with checked_out(self.cache, remote, params.branch, path) as tree:
                    try:
                        return await self._round(params, tree)
                    finally:
                        await _scrub(tree)

    async def _round(self, params: TestInput, tree: Worktree) -> TestRound:
        limits = SandboxLimits(timeout_s=params.timeout_minutes * 60)
        if self.environments is None or params.environment is None:
            return await self._test(params, tree.path, limits, Prepared(_NO_REPORT))
        async with self.environments.usable(params.environment) as prepared:
            tested = await self._test(params, tree.path, limits, prepared)
            head = await tree.head()
            if await self.environments.key_of(params.environment, head) == prepared.report.key:
                return tested
            note = environment.definition_changed_note(prepared.report.revision)
            tail = f"{tested.output_tail}\n\n{note}"[-TEST_OUTPUT_TAIL:]
            return tested.model_copy(update={"output_tail": tail})

    async def _test(
        self, params: TestInput, worktree: Path, limits: SandboxLimits, prepared: Prepared
    ) -> TestRound:
        result = await sandboxed(params.command, worktree, limits, prepared.view)
        return TestRound(
            round=params.round,
            command=params.command,
            passed=result.passed,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            duration_s=round(result.duration_s, 2),
            output_tail=result.output[-TEST_OUTPUT_TAIL:],
        )

    def activities(self) -> list[Any]:
        return [self.run_tests]


async def _scrub(tree: Worktree) -> None:
    """Before any host git looks at the worktree again. Only its removal comes, today, which
    deletes the files before git runs in the mirror: a failure here fails no work."""
    try:
        await tree.remove_nested_repos()
    except GitError:
        log.exception("could not clear %s of nested repositories", tree.path)


async def sandboxed(
    command: str,
    worktree: Path,
    limits: SandboxLimits,
    environment: SandboxEnvironment = NO_ENVIRONMENT,
) -> CommandResult:
    """The command's result; a sandbox that could not start is a failed result saying so (a
    retry of the whole round would meet the same sandbox)."""
    try:
        return await run_sandboxed(command, worktree, limits=limits, environment=environment)
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


_NO_REPORT = EnvironmentReport(status=EnvironmentStatus.NONE)

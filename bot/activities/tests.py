"""The tests activity: the test command on the scratch head, in the sandbox, in the repository's
environment for that head (recomputed from its files: a changed lock file rebuilds it), as one
round of the run's reconcile loop. A setup that fails is the round's result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.environment import Environments, Prepared
from bot.activities.heartbeat import heartbeating
from bot.activities.inputs import TestInput
from bot.activities.workspace import checked_out, workdir
from bot.core.environment import EnvironmentReport, EnvironmentStatus
from bot.core.results import TestRound
from bot.git.mirror import MirrorCache
from bot.git.worktree import Worktree
from bot.github.forge import Forge
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import run_sandboxed

TEST_OUTPUT_TAIL = 8000
HEARTBEAT_SECONDS = 10.0


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
        with boundary():
            remote = await self.forge.remote(params.target)
            async with checked_out(self.cache, remote, params.branch, path) as tree:
                try:
                    async with heartbeating(HEARTBEAT_SECONDS):
                        return await self._round(params, tree)
                finally:
                    # Before any host git looks at the worktree again (only its removal, today).
                    await tree.remove_nested_repos()

    async def _round(self, params: TestInput, tree: Worktree) -> TestRound:
        limits = SandboxLimits(timeout_s=params.timeout_minutes * 60)
        if self.environments is None or params.environment is None:
            return await self._test(params, tree.path, limits, Prepared(_NO_REPORT))
        head = await tree.head()
        async with self.environments.ensure(params.environment, head) as prepared:
            if not prepared.report.usable:
                return _setup_failed(params, prepared.report)
            return await self._test(params, tree.path, limits, prepared)

    async def _test(
        self, params: TestInput, worktree: Path, limits: SandboxLimits, prepared: Prepared
    ) -> TestRound:
        result = await run_sandboxed(
            params.command, worktree, limits=limits, environment=prepared.view
        )
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


_NO_REPORT = EnvironmentReport(status=EnvironmentStatus.NONE)


def _setup_failed(params: TestInput, report: EnvironmentReport) -> TestRound:
    """The round fails with the setup's output (the fixer sees why the environment of the
    changed manifests does not build)."""
    refused = [line for line in report.egress if line.startswith("refused")]
    lines = [f"The environment for this commit could not be built: {report.error}"]
    lines += [f"  {report.description}", *refused, "", report.output_tail]
    return TestRound(
        round=params.round,
        command=params.command,
        passed=False,
        exit_code=None,
        duration_s=report.duration_s,
        output_tail="\n".join(lines)[-TEST_OUTPUT_TAIL:],
    )

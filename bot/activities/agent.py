"""The agent activity: one agent's turn of work (agents/runner.py) in a private worktree of the
scratch branch, heartbeating, with the run's memory injected and the repository's environment
for its `run` commands (this worker's cached copy, or built here first)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.environment import Environments
from bot.activities.heartbeat import heartbeating
from bot.activities.inputs import AgentInput
from bot.activities.workspace import checked_out, workdir
from bot.agents.model import ModelClient
from bot.agents.runner import AgentRunner, AgentTask, RunLink
from bot.core.results import AgentResult
from bot.errors import SandboxError
from bot.git.mirror import MirrorCache
from bot.github.forge import Forge
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment

# Local and cheap (the worker batches what it sends): a cancel reaches the agent within seconds.
HEARTBEAT_SECONDS = 1.0


class AgentActivities:
    def __init__(
        self,
        forge: Forge,
        cache: MirrorCache,
        work_root: Path,
        model: ModelClient,
        link: Callable[[str], RunLink],
        environments: Environments | None = None,
    ) -> None:
        self.forge = forge
        self.cache = cache
        self.work_root = work_root
        self.model = model
        self.link = link  # the run's memory and progress, by the run's workflow id
        self.environments = environments

    @activity.defn
    async def run_agent(self, params: AgentInput) -> AgentResult:
        link = self.link(params.run_workflow_id)
        runner = AgentRunner(self.model, self.cache, link, heartbeat=activity.heartbeat)
        task = AgentTask(
            role=params.role,
            round=params.round,
            plan=params.plan,
            repo_summary=params.repo_summary,
            config=params.config,
            feedback=params.feedback,
        )
        path = workdir(self.work_root, params.run_workflow_id, f"{task.role.value}-r{task.round}")
        with boundary():
            remote = await self.forge.remote(params.target)
            async with (
                heartbeating(HEARTBEAT_SECONDS),
                self._environment(params) as environment,
                checked_out(self.cache, remote, params.branch, path) as tree,
            ):
                return await runner.run(task, tree, environment)

    @contextlib.asynccontextmanager
    async def _environment(self, params: AgentInput) -> AsyncIterator[SandboxEnvironment]:
        """The run's environment, as the phase before the agents prepared it (this worker
        may not have it yet: then it is built here, the same way)."""
        if self.environments is None or params.environment is None:
            yield NO_ENVIRONMENT
            return
        async with self.environments.ensure(params.environment) as prepared:
            if not prepared.report.usable:  # it was built on another worker: try again
                why = prepared.report.error
                raise SandboxError(f"the environment could not be built on this worker: {why}")
            yield prepared.view

    def activities(self) -> list[Any]:
        return [self.run_agent]

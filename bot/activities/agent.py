"""The agent activity: one agent's work (agents/runner.py) in a private worktree of the scratch
branch, heartbeating, with the run's memory injected and the repository's environment for its
`run` commands (this worker's cached copy, or built here first); or, in conflict mode, its
resolution of the conflicts between its commit and the scratch branch.

A retried attempt first looks for the commit an earlier attempt made (by its Orchestrate-Task
trailer, on the agent's own branch or the scratch branch): an attempt that pushed and then died,
or whose answer was lost, is not done again. Interrupted by its worker's shutdown, it is tried
again soon, wherever a worker is.
"""

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
from bot.core.decisions import agent_branch, task_key
from bot.core.remote import Remote
from bot.core.results import AgentResult, AgentStatus
from bot.git.history import find_task_commit
from bot.git.mirror import MirrorCache
from bot.git.parse import TaskCommit
from bot.github.forge import Forge
from bot.render import commit
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment

# Local and cheap (the worker batches what it sends): a cancel reaches the agent within seconds.
HEARTBEAT_SECONDS = 1.0
RECOVERED = "an earlier attempt's commit, found on its branch"


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
        task = _task(params, activity.info().attempt)
        runner = AgentRunner(
            self.model, self.cache, self.link(params.run_workflow_id), heartbeat=activity.heartbeat
        )
        name = task.branch.rsplit("--", 1)[-1]  # <role>-r<round>[-c<n>]
        path = workdir(self.work_root, params.run_workflow_id, name)
        with boundary():
            remote = await self.forge.remote(params.target)
            async with heartbeating(HEARTBEAT_SECONDS):
                earlier = await self._earlier(remote, params, task)
                if earlier is not None:
                    return earlier
                start = params.resolve or None
                async with (
                    self._environment(params) as environment,
                    checked_out(self.cache, remote, params.branch, path, start) as tree,
                ):
                    if params.conflict:
                        return await runner.resolve(task, tree, environment)
                    return await runner.run(task, tree, environment)

    async def _earlier(
        self, remote: Remote, params: AgentInput, task: AgentTask
    ) -> AgentResult | None:
        """The result of an earlier attempt that got as far as pushing its commit: on the
        scratch branch (landed), or on the branch of its own (to land)."""
        if task.key is None:
            return None
        mirror = await self.cache.sync(remote)
        # A resolution is its own branch's only new commit: the branch it rebased holds the
        # same trailer, so only its own branch says whether it was done.
        places = [("", params.branch), (task.branch, task.branch)]
        for landing, branch in places[1:] if params.conflict else places:
            if await self.cache.remote_head(mirror, branch) is None:
                continue
            found = await find_task_commit(mirror, task.key, [f"refs/remotes/origin/{branch}"])
            if found is not None:
                return _recovered(params, task, found, landing)
        return None

    @contextlib.asynccontextmanager
    async def _environment(self, params: AgentInput) -> AsyncIterator[SandboxEnvironment]:
        """The run's environment, as the phase before the agents prepared it (this worker
        may not have it yet: then it is built here, the same way)."""
        if self.environments is None or params.environment is None:
            yield NO_ENVIRONMENT
            return
        async with self.environments.usable(params.environment) as prepared:
            yield prepared.view

    def activities(self) -> list[Any]:
        return [self.run_agent]


def _task(params: AgentInput, attempt: int) -> AgentTask:
    role, number = params.role, params.round
    return AgentTask(
        role=role,
        round=number,
        plan=params.plan,
        repo_summary=params.repo_summary,
        config=params.config,
        feedback=params.feedback,
        key=task_key(params.run_workflow_id, role.value, number),
        branch=agent_branch(
            params.own_branches or params.branch, role.value, number, params.conflict
        ),
        attempt=attempt,
        conflict=params.conflict,
    )


def _recovered(params: AgentInput, task: AgentTask, found: TaskCommit, branch: str) -> AgentResult:
    """What an attempt that found its earlier commit reports: that commit, how the agent ended
    as its message says, and no new work (the earlier attempt reported its usage turn by
    turn)."""
    stopped = commit.stopped_reason(found.body)
    status = AgentStatus.DONE
    if stopped is not None:
        status = AgentStatus.FAILED if stopped.startswith("error") else AgentStatus.BUDGET
    return AgentResult(
        role=task.role.value,
        round=task.round,
        status=status,
        model=params.config.models.for_role(task.role),
        commits=[found.sha],
        summary=found.subject,
        stop_reason=stopped or RECOVERED,
        attempt=task.attempt,
        branch=branch,
    )

"""State and building blocks of the run workflow: agents, cancellation, budgets and the one
status comment it edits in place. `bot/workflow.py` composes them into the run.

Workflow code: deterministic, every side effect an activity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from bot.activities.agent import AgentActivities
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import (
        AgentInput,
        EditInput,
        PostInput,
    )
    from bot.calls import github_call
    from bot.core import decisions, pricing, results
    from bot.core.memory import Memory
    from bot.core.plan import Plan, Role
    from bot.core.pricing import PriceTable
    from bot.core.repo_config import RepoConfig
    from bot.core.results import AgentResult, AgentStatus, Span, TestRound
    from bot.core.targets import Target
    from bot.core.usage import Usage
    from bot.github.models import FollowUp
    from bot.render import messages
    from bot.render import plan_comment as plan_comment_mod

T = TypeVar("T")
STATUS_EDIT_INTERVAL = timedelta(seconds=3)
MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=5,
    non_retryable_error_types=["ModelRefused", "ConfigError"],
)


class RunCancelled(Exception):
    pass


class RunProgress(BaseModel):
    """What `bot run` and the `/orchestrate` link show about a run while it goes."""

    state: str = "planning"
    link: str = ""
    lines: dict[str, results.AgentLine] = Field(default_factory=dict)
    rounds: list[TestRound] = Field(default_factory=list)
    pr_url: str = ""
    finished: bool = False


class RunState:
    """What a run knows while it goes; every method here is workflow code (deterministic)."""

    def __init__(self) -> None:
        self._memory = Memory()
        self._progress = RunProgress()
        self._cancelled_by: str | None = None
        self._approved_by: str | None = None
        self._status_comment: int | None = None
        self._dirty = False
        self._closing = False
        self._plan: Plan | None = None
        self._title = ""
        self._results: list[AgentResult] = []
        self._spans: list[Span] = []
        self._orchestrator = Usage()
        self._prices: PriceTable | None = None
        self._follow_up: FollowUp | None = None

    def _mark_unfinished(self, status: AgentStatus) -> None:
        for line in self._progress.lines.values():
            if line.status in (AgentStatus.QUEUED, AgentStatus.RUNNING):
                line.status = status

    # -- pieces ----------------------------------------------------------------------------------

    async def _agent(self, agent: AgentInput) -> AgentResult:
        line = self._progress.lines[agent.role.value]
        line.status = AgentStatus.RUNNING
        self._dirty = True
        started = workflow.now()
        try:
            result: AgentResult = await workflow.execute_activity_method(
                AgentActivities.run_agent,
                agent,
                start_to_close_timeout=timedelta(minutes=agent.config.budget.agent_minutes + 5),
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(
                    maximum_attempts=2, non_retryable_error_types=["ModelRefused"]
                ),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as exc:
            if isinstance(exc.cause, ApplicationError) or not self._cancelled_by:
                result = AgentResult(
                    role=agent.role.value,
                    round=agent.round,
                    status=AgentStatus.FAILED,
                    model=agent.config.models.for_role(agent.role),
                    stop_reason=f"error: {exc.cause or exc}",
                )
            else:
                raise
        self._results.append(result)
        line.status = result.status
        line.turns, line.tokens = self._finished_work(agent.role.value)
        self._span(f"{agent.role.value} (round {agent.round})", "agents", started)
        self._dirty = True
        return result

    def _finished_work(self, role: str) -> tuple[int, int]:
        """Turns and tokens of a role's finished activities, over every round it ran in."""
        mine = [result for result in self._results if result.role == role]
        return sum(r.turns for r in mine), sum(r.usage.total for r in mine)

    async def _fan_out(self, agent: AgentInput, roles: list[Role], *, parallel: bool) -> None:
        """Every agent of the plan: at once, or one after another when the repo asks for it."""
        inputs = [agent.model_copy(update={"role": role}) for role in roles]
        if parallel:
            await asyncio.gather(*(self._agent(one) for one in inputs))
            return
        for one in inputs:
            await self._agent(one)

    async def _approved(self, config: RepoConfig) -> bool:
        try:
            await workflow.wait_condition(
                lambda: self._approved_by is not None or self._cancelled_by is not None,
                timeout=timedelta(hours=config.approval_timeout_hours),
            )
        except TimeoutError:
            return False
        if self._cancelled_by is not None:
            raise RunCancelled
        return True

    async def _cancellable(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` unless the run is cancelled first; then cancel it and wait for it
        (agents stop at their next heartbeat and push nothing after that)."""
        if self._cancelled_by is not None:
            raise RunCancelled
        task = asyncio.ensure_future(awaitable)
        await workflow.wait_condition(lambda: task.done() or self._cancelled_by is not None)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise RunCancelled
        return task.result()

    def _budget_reached(self, config: RepoConfig, started: datetime) -> str | None:
        usage = decisions.total_usage(self._results, self._orchestrator)
        dollars = pricing.run_cost(
            self._results, self._orchestrator, config.models.planner, self._prices
        )
        return decisions.run_budget_reached(
            tokens_used=usage.total,
            dollars_used=dollars,
            elapsed_minutes=(workflow.now() - started).total_seconds() / 60,
            tokens=config.budget.tokens,
            dollars=config.budget.dollars,
            minutes=config.budget.minutes,
        )

    async def _fail(self, target: Target, reason: str) -> None:
        self._progress.state = f"failed: {reason}"
        await github_call(
            ForgeActivities.post_comment, PostInput(target=target, body=messages.run_failed(reason))
        )

    def _span(self, label: str, section: str, started: datetime) -> None:
        self._spans.append(
            Span(
                label=label,
                section=section,
                start=started.isoformat(),
                end=workflow.now().isoformat(),
            )
        )

    def _set_state(self, state: str) -> None:
        self._progress.state = state
        self._dirty = True

    def _status_body(self) -> str:
        assert self._plan is not None
        return plan_comment_mod.plan_comment(
            self._plan,
            task_title=self._title,
            states=self._progress.lines,
            run_state=self._progress.state,
            pr_url=self._progress.pr_url or None,
            rounds=self._progress.rounds,
        )

    async def _publish_status(self, target: Target) -> None:
        """Edit the one status comment as the run moves: in order, coalesced, at most every few
        seconds, and once more at the end."""
        while True:
            await workflow.wait_condition(lambda: self._dirty or self._closing)
            if self._dirty and self._status_comment is not None:
                self._dirty = False
                await github_call(
                    ForgeActivities.edit_comment,
                    EditInput(
                        target=target, comment_id=self._status_comment, body=self._status_body()
                    ),
                )
            else:
                self._dirty = False
            if self._closing and not self._dirty:
                return
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._closing, timeout=STATUS_EDIT_INTERVAL)

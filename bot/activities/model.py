"""The model activities of a run: the plan, and warming the prompt cache for the agents.

Transient model errors are tried again for the same request within the activity (agents/
retry.py), and the usage of each call reaches the run as soon as it is answered, so a crash
after the call still counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.heartbeat import HEARTBEAT_SECONDS, heartbeating
from bot.activities.inputs import PlanInput, PlanResult, WarmInput
from bot.agents.model import ModelClient, ModelReply
from bot.agents.planner import PlanInvalid, make_plan
from bot.agents.prompt import SharedContext, warm_request
from bot.agents.retry import DEFAULT_RETRY, ModelRetry, RetryingModel
from bot.core.results import ModelUsage
from bot.core.usage import Usage

# Retries end this long before the activity's own timeout, so the error is ours, not a timeout.
_DEADLINE_MARGIN_S = 15.0


class UsageSink(Protocol):
    """Where a call's usage goes (the run workflow, by its id); best effort, never raises."""

    async def report_usage(self, report: ModelUsage) -> None: ...


@dataclass
class _Reported:
    """A ModelClient that reports the usage summed over its calls after each one."""

    model: ModelClient
    call: str
    sink: UsageSink | None
    usage: Usage = field(default_factory=Usage)

    async def create(self, **request: Any) -> ModelReply:
        reply = await self.model.create(**request)
        self.usage = self.usage + reply.usage
        if self.sink is not None:
            await self.sink.report_usage(self.report())
        return reply

    def report(self) -> ModelUsage:
        return ModelUsage(call=self.call, attempt=activity.info().attempt, usage=self.usage)


class ModelActivities:
    def __init__(
        self,
        model: ModelClient,
        sink: Callable[[str], UsageSink] | None = None,
        retry: ModelRetry = DEFAULT_RETRY,
    ) -> None:
        self.model = model
        self.sink = sink  # the run's usage reports, by the run's workflow id
        self.retry = retry

    def _model(self, call: str, run_workflow_id: str) -> _Reported:
        timeout = activity.info().start_to_close_timeout
        deadline = None
        if timeout is not None:
            deadline = time.monotonic() + timeout.total_seconds() - _DEADLINE_MARGIN_S
        sink = self.sink(run_workflow_id) if self.sink and run_workflow_id else None
        return _Reported(RetryingModel(self.model, self.retry, deadline), call, sink)

    @activity.defn
    async def plan(self, params: PlanInput) -> PlanResult:
        """The plan, or why the planner gave none (the run reports it; no retry helps).
        Heartbeats while the model thinks: a dead worker's call is made again within a minute."""
        model = self._model("plan", params.run_workflow_id)
        attempt = activity.info().attempt
        with boundary():
            try:
                async with heartbeating(HEARTBEAT_SECONDS):
                    outcome = await make_plan(
                        model,
                        model_name=params.config.models.planner,
                        task=params.task,
                        issue_title=params.issue_title,
                        issue_body=params.issue_body,
                        repo_summary=params.repo_summary,
                        default_test_command=params.config.test_command,
                        allowed_roles=params.config.agents,
                    )
            except PlanInvalid as exc:
                return PlanResult(error=str(exc), usage=exc.usage, attempt=attempt)
        return PlanResult(plan=outcome.plan, usage=outcome.usage, attempt=attempt)

    @activity.defn
    async def warm_cache(self, params: WarmInput) -> ModelUsage:
        """One request with the shared prefix, so the agents' first turns read the cache."""
        shared = SharedContext.build(params.plan, params.repo_summary, params.config)
        model = self._model("warm cache", params.run_workflow_id)
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                await model.create(**warm_request(shared, params.config.models.implement))
        return model.report()

    def activities(self) -> list[Any]:
        return [self.plan, self.warm_cache]

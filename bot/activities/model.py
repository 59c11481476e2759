"""The model activities of a run: the plan, and warming the prompt cache for the agents."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.heartbeat import HEARTBEAT_SECONDS, heartbeating
from bot.activities.inputs import PlanInput, PlanResult, WarmInput
from bot.agents.model import ModelClient
from bot.agents.planner import PlanInvalid, make_plan
from bot.agents.prompt import SharedContext, warm_request
from bot.core.usage import Usage


class ModelActivities:
    def __init__(self, model: ModelClient) -> None:
        self.model = model

    @activity.defn
    async def plan(self, params: PlanInput) -> PlanResult:
        """The plan, or why the planner gave none (the run reports it; no retry helps).
        Heartbeats while the model thinks: a dead worker's call is made again within a minute."""
        with boundary():
            try:
                async with heartbeating(HEARTBEAT_SECONDS):
                    outcome = await make_plan(
                        self.model,
                        model_name=params.config.models.planner,
                        task=params.task,
                        issue_title=params.issue_title,
                        issue_body=params.issue_body,
                        repo_summary=params.repo_summary,
                        default_test_command=params.config.test_command,
                        allowed_roles=params.config.agents,
                    )
            except PlanInvalid as exc:
                return PlanResult(error=str(exc), usage=exc.usage)
        return PlanResult(plan=outcome.plan, usage=outcome.usage)

    @activity.defn
    async def warm_cache(self, params: WarmInput) -> Usage:
        """One request with the shared prefix, so the agents' first turns read the cache."""
        shared = SharedContext.build(params.plan, params.repo_summary, params.config)
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                request = warm_request(shared, params.config.models.implement)
                reply = await self.model.create(**request)
        return reply.usage

    def activities(self) -> list[Any]:
        return [self.plan, self.warm_cache]

"""The model activities against the scripted Messages API: transient errors tried again inside
the activity, and each call's usage reported to the run as soon as it is answered (so a crash
later in the attempt still counts it), with the attempt it belongs to."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from bot.activities.inputs import PlanInput, WarmInput
from bot.activities.model import ModelActivities, UsageSink
from bot.agents.model import AnthropicModel
from bot.agents.retry import ModelRetry
from bot.core.plan import Plan
from bot.core.repo_config import RepoConfig
from bot.core.results import ModelUsage
from bot.core.usage import Usage
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.project import plan_input as plan_json
from tests.support.project import plan_turn

FAST = ModelRetry(attempts=4, first_delay=0.01)


class Reports:
    """The run's side of the usage reports, by the run's workflow id."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ModelUsage]] = []

    def __call__(self, run_id: str) -> UsageSink:
        reports = self

        class Sink:
            async def report_usage(self, report: ModelUsage) -> None:
                reports.seen.append((run_id, report))

        return Sink()


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[ScriptedModel, AnthropicModel]]:
    with ScriptedModel() as server:
        client = AnthropicModel(api_key="test-key", base_url=server.base_url)
        try:
            yield server, client
        finally:
            await client.close()


def third_attempt() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=3, start_to_close_timeout=timedelta(minutes=5))
    return env


def usage_of(server: ScriptedModel, index: int) -> Usage:
    served = server.requests[index].response["usage"]
    return Usage(
        input_tokens=served["input_tokens"],
        output_tokens=served["output_tokens"],
        cache_read_tokens=served["cache_read_input_tokens"],
        cache_write_tokens=served["cache_creation_input_tokens"],
    )


async def test_each_planner_call_is_reported_as_it_is_answered(
    scripted: tuple[ScriptedModel, AnthropicModel],
) -> None:
    """A 529 (tried again), an invalid plan, a valid one: two answered calls, each reported at
    once with the usage so far and the attempt; the result's report is the last one."""
    server, client = scripted
    invalid = Turn(tool_calls=[ToolCall("submit_plan", {"summary": "no subtasks"})])
    server.add_script("submit_plan", [Turn(error=529), invalid, plan_turn()])
    reports = Reports()
    activities = ModelActivities(client, reports, retry=FAST)
    params = PlanInput(
        task="t", issue_title="t", issue_body="", repo_summary="", config=RepoConfig(),
        run_workflow_id="run-9",
    )  # fmt: skip
    result = await third_attempt().run(activities.plan, params)
    first, second = usage_of(server, 1), usage_of(server, 2)
    assert result.plan is not None and result.report == ModelUsage(
        call="plan", attempt=3, usage=first + second
    )
    assert reports.seen == [
        ("run-9", ModelUsage(call="plan", attempt=3, usage=first)),
        ("run-9", ModelUsage(call="plan", attempt=3, usage=first + second)),
    ]


async def test_the_cache_warmer_reports_and_returns_its_usage(
    scripted: tuple[ScriptedModel, AnthropicModel],
) -> None:
    """The warm-up call is reported and returned as the attempt's usage (the scripted server
    answers every warm-up: it takes no scripted turn)."""
    server, client = scripted
    reports = Reports()
    plan = Plan.model_validate(plan_json())
    params = WarmInput(plan=plan, repo_summary="", config=RepoConfig(), run_workflow_id="run-9")
    report = await third_attempt().run(ModelActivities(client, reports, FAST).warm_cache, params)
    assert report == ModelUsage(call="warm cache", attempt=3, usage=usage_of(server, 0))
    assert reports.seen == [("run-9", report)]

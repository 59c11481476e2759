"""Transient model errors are tried again for the same request: the delays (the API's
retry-after first), the bounds (attempts, the deadline), and the agent loop against the scripted
Messages API server with each fault (429, 529, 500, a dropped connection, a stalled answer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.agents.limits import AgentBudget
from bot.agents.loop import AgentSpec, run_agent
from bot.agents.model import AnthropicModel, ModelReply
from bot.agents.prompt import SharedContext
from bot.agents.retry import ModelRetry, RetryingModel, retrying
from bot.agents.tools.box import Toolbox
from bot.core.plan import Plan, Role
from bot.core.results import AgentStatus
from bot.core.usage import Usage
from bot.errors import ModelError
from tests.agents.test_loop import PLAN, FakeMemory
from tests.fakes import ScriptedModel, ToolCall, Turn

MODEL = "claude-sonnet-4-6"
FAST = ModelRetry(attempts=6, first_delay=0.01, max_delay=0.05)
STALL_S = 1.3  # past the impatient client's 1 s read timeout


def spec(plan: Plan = PLAN) -> AgentSpec:
    shared = SharedContext.build(plan, "Files:\nsrc/app.py")
    return AgentSpec(
        role=Role.IMPLEMENT, model=MODEL, shared=shared, subtask=plan.subtask(Role.IMPLEMENT)
    )


@pytest.fixture
async def impatient(server: ScriptedModel) -> AsyncIterator[AnthropicModel]:
    """A client that gives up reading an answer after 1 s (a stalled answer times out)."""
    client = AnthropicModel(api_key="test-key", base_url=server.base_url, timeout=1.0)
    try:
        yield client
    finally:
        await client.close()


def test_retry_after_wins_then_exponential_backoff_capped() -> None:
    """The API's retry-after is the wait when given; else 1, 2, 4 … up to the cap; a
    non-transient error or used-up attempts: no retry."""
    retry = ModelRetry(attempts=6, first_delay=1.0, max_delay=5.0)
    transient = ModelError("overloaded", retryable=True, status=529)
    assert [retry.delay(transient, n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 5.0, 5.0, None]
    limited = ModelError("slow down", retryable=True, status=429, retry_after=7.5)
    assert retry.delay(limited, 1) == 7.5
    assert retry.delay(ModelError("bad request", status=400), 1) is None


async def test_no_wait_past_the_deadline() -> None:
    """A retry whose wait would end past the deadline is not made: the error is raised at once
    (no sleep), with how many tries were made."""
    now = [100.0]
    slept: list[float] = []
    calls = 0

    async def fail() -> None:
        nonlocal calls
        calls += 1
        raise ModelError("slow down", retryable=True, status=429, retry_after=3.0)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with pytest.raises(ModelError, match=r"\(after 2 tries\)$"):
        await retrying(fail, FAST, deadline=105.0, clock=lambda: now[0], sleep=sleep)
    assert (calls, slept) == (2, [3.0])


async def test_each_fault_is_retried_with_the_same_request(
    server: ScriptedModel, impatient: AnthropicModel, tmp_path: Path
) -> None:
    """429, 529, 500, a connection closed before and in the middle of the answer, and an answer
    that stalls past the client's timeout: each is tried again with the very same request (the
    conversation kept), and the agent goes on to finish its work."""
    faults = [
        Turn(text="slow", stall=STALL_S),
        Turn(error=429, retry_after=0),
        Turn(error=529),
        Turn(error=500),
        Turn(text="lost", drop="before"),
        Turn(text="cut", drop="mid"),
    ]
    work = Turn(tool_calls=[ToolCall("search", {"pattern": "greet"})])
    server.add_script("implement", [*faults, work, Turn(error=529), Turn(text="Finished.")])
    (tmp_path / "app.py").write_text("def greet(): ...\n")
    memory = FakeMemory()
    retry = ModelRetry(attempts=7, first_delay=0.01, max_delay=0.05)  # six faults in a row
    outcome = await run_agent(
        spec(), impatient, Toolbox(tmp_path, memory), memory, budget=AgentBudget(), retry=retry
    )
    assert (outcome.status, outcome.summary, outcome.turns) == (AgentStatus.DONE, "Finished.", 2)
    stalled = server.requests_for("implement")[0]
    await asyncio.sleep(max(0.0, stalled.started_at + STALL_S + 0.1 - time.monotonic()))
    bodies = [record.body for record in server.requests_for("implement")]
    assert len(bodies) == 9
    assert all(body == bodies[0] for body in bodies[:7])  # the first request, seven times
    assert bodies[7] == bodies[8] and bodies[7] != bodies[0]  # the second, twice
    assert len(bodies[7]["messages"]) == 3  # the task, the tool call, its result


async def test_the_wait_honours_retry_after(
    server: ScriptedModel, model: AnthropicModel, tmp_path: Path
) -> None:
    """A 429 asking for 0.6 s: the next try comes no sooner (the backoff alone would be 10 ms);
    the header reaches ModelError.retry_after."""
    server.add_script("implement", [Turn(error=429, retry_after=0.6), Turn(text="ok")])
    memory = FakeMemory()
    await run_agent(
        spec(), model, Toolbox(tmp_path, memory), memory, budget=AgentBudget(), retry=FAST
    )
    first, second = server.requests_for("implement")
    assert second.started_at - first.ended_at >= 0.6
    server.add_script("default", [Turn(error=529, retry_after=2.5)])
    with pytest.raises(ModelError) as caught:
        await model.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert (caught.value.status, caught.value.retry_after) == (529, 2.5)


async def test_retries_end_at_the_agents_deadline(
    server: ScriptedModel, model: AnthropicModel, tmp_path: Path
) -> None:
    """An agent with 2 s left is told to wait 30 s: it does not wait; the 429 propagates."""
    server.add_script("implement", [Turn(error=429, retry_after=30)])
    memory = FakeMemory()
    started = time.monotonic()
    with pytest.raises(ModelError) as caught:
        await run_agent(
            spec(), model, Toolbox(tmp_path, memory), memory,
            budget=AgentBudget(max_seconds=2.0), retry=FAST,
        )  # fmt: skip
    assert caught.value.status == 429
    assert time.monotonic() - started < 2.0
    assert len(server.requests_for("implement")) == 1


async def test_the_planners_model_is_retried_too(
    server: ScriptedModel, model: AnthropicModel
) -> None:
    """RetryingModel (the planner's and the cache warmer's client) tries a 529 again."""
    server.add_script("default", [Turn(error=529), Turn(text="hello")])
    retried = RetryingModel(model, FAST)
    reply: ModelReply = await retried.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.text == "hello" and reply.usage != Usage()
    assert len(server.requests_for("default")) == 2

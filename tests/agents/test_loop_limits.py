"""The loop's limits inside a turn: time around each tool call, calls and output per turn, and
the request size, against the scripted Messages API server with fake tools and a fake clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.agents.limits import AgentBudget, json_size
from bot.agents.loop import LoopOutcome, TurnInfo, run_agent
from bot.agents.model import AnthropicModel
from bot.agents.ports import ToolOutcome
from bot.agents.prompt import SharedContext
from bot.core.plan import Role
from bot.core.results import AgentStatus
from tests.agents.test_loop import PLAN, FakeMemory, last_user_blocks, spec_for
from tests.fakes import ScriptedModel, ToolCall, Turn

SLEEP = ToolCall("run", {"command": "sleep 10"})


class FakeTools:
    """Tools that record each call with the time it was given; `work` runs inside the call
    (e.g. moves a fake clock on) and returns the result text."""

    def __init__(self, work: Callable[[str, Any], str] = lambda name, tool_input: "ok") -> None:
        self.work = work
        self.calls: list[tuple[str, Any, float | None]] = []
        self.files_written: set[str] = set()

    async def call(
        self, name: str, tool_input: object, *, agent: str, time_left: float | None = None
    ) -> ToolOutcome:
        self.calls.append((name, tool_input, time_left))
        return ToolOutcome(self.work(name, tool_input))


@pytest.fixture
def shared() -> SharedContext:
    return SharedContext.build(PLAN, "Files:\nsrc/app.py\nREADME.md")


async def run(
    model: AnthropicModel,
    shared: SharedContext,
    tools: Any,
    budget: AgentBudget,
    **kwargs: Any,
) -> LoopOutcome:
    memory = FakeMemory()
    spec = spec_for(Role.IMPLEMENT, shared)
    return await run_agent(spec, model, tools, memory, budget=budget, **kwargs)


async def test_a_turn_of_long_calls_stops_at_the_deadline(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """Six 10 s calls against 15 s: the first gets 15 s, the second the 5 s left, the other
    four never run, and no further model call is made."""
    server.add_script("implement", [Turn(tool_calls=[SLEEP] * 6), Turn(text="never asked")])
    now = [100.0]

    def ten_seconds(name: str, tool_input: Any) -> str:
        now[0] += 10.0
        return "slept"

    tools = FakeTools(ten_seconds)
    outcome = await run(model, shared, tools, AgentBudget(max_seconds=15.0), clock=lambda: now[0])

    assert (outcome.status, outcome.stop_reason, outcome.turns) == (
        AgentStatus.BUDGET,
        "budget: time",
        1,
    )
    assert [time_left for _, _, time_left in tools.calls] == [15.0, 5.0]
    assert len(server.requests_for("implement")) == 1
    assert server.remaining("implement") == 1


async def test_no_call_runs_when_the_model_call_used_up_the_time(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """A model answer that arrives after the deadline: none of its calls runs."""
    server.add_script("implement", [Turn(tool_calls=[SLEEP] * 2)])
    now = [0.0]

    async def slow_answer(info: TurnInfo) -> None:
        now[0] += 20.0

    tools = FakeTools()
    outcome = await run(
        model,
        shared,
        tools,
        AgentBudget(max_seconds=15.0),
        clock=lambda: now[0],
        on_turn=slow_answer,
    )

    assert (outcome.status, outcome.stop_reason) == (AgentStatus.BUDGET, "budget: time")
    assert tools.calls == []


async def test_a_model_call_past_the_deadline_is_given_up(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """A model answer that does not come is abandoned once the time left and the grace are
    over: 'budget: time', no turn counted, no tool call."""
    server.add_script("implement", [Turn(tool_calls=[SLEEP], hold=True)])
    tools = FakeTools()
    started = time.monotonic()

    outcome = await run(model, shared, tools, AgentBudget(max_seconds=0.5, call_grace_seconds=0.2))

    assert time.monotonic() - started < 5
    assert (outcome.status, outcome.stop_reason, outcome.turns) == (
        AgentStatus.BUDGET,
        "budget: time",
        0,
    )
    assert tools.calls == []
    assert server.held == 1


async def test_a_call_that_ignores_its_time_is_cancelled_after_the_grace(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """A tool that never returns is cancelled once the time left and the grace are over."""
    server.add_script("implement", [Turn(tool_calls=[SLEEP, SLEEP])])
    cancelled: list[bool] = []

    class Hanging(FakeTools):
        async def call(self, name: str, tool_input: object, **kwargs: Any) -> ToolOutcome:
            self.calls.append((name, tool_input, kwargs.get("time_left")))
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
            return ToolOutcome("finished")

    tools = Hanging()
    started = time.monotonic()
    outcome = await run(model, shared, tools, AgentBudget(max_seconds=0.5, call_grace_seconds=0.2))

    assert time.monotonic() - started < 5
    assert (outcome.status, outcome.stop_reason) == (AgentStatus.BUDGET, "budget: time")
    assert cancelled == [True]
    assert len(tools.calls) == 1


async def test_calls_over_the_per_turn_count_get_an_error_instead_of_running(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """With 3 calls allowed per turn, a turn of 5 runs 3; all 5 ids get a result, in order."""
    calls = [ToolCall("search", {"pattern": f"p{n}"}) for n in range(5)]
    server.add_script("implement", [Turn(tool_calls=calls), Turn(text="done")])
    tools = FakeTools()

    outcome = await run(model, shared, tools, AgentBudget(max_calls_per_turn=3))

    assert outcome.status is AgentStatus.DONE
    assert [tool_input["pattern"] for _, tool_input, _ in tools.calls] == ["p0", "p1", "p2"]
    first, second = server.requests_for("implement")
    asked = [b["id"] for b in first.response["content"] if b["type"] == "tool_use"]
    results = last_user_blocks(second)
    assert [r["tool_use_id"] for r in results] == asked
    refusal = "Not run: at most 3 tool calls run per turn. Ask for it again in your next turn."
    assert [(r["content"], r.get("is_error", False)) for r in results] == [
        ("ok", False),
        ("ok", False),
        ("ok", False),
        (refusal, True),
        (refusal, True),
    ]


async def test_a_turns_output_is_capped_and_later_calls_do_not_run(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """250 characters per turn, 100 per result: the third result is cut to the 50 left and
    the fourth call does not run."""
    calls = [ToolCall("search", {"pattern": f"p{n}"}) for n in range(4)]
    server.add_script("implement", [Turn(tool_calls=calls), Turn(text="done")])
    tools = FakeTools(lambda name, tool_input: "x" * 100)

    await run(model, shared, tools, AgentBudget(max_result_chars_per_turn=250))

    assert len(tools.calls) == 3
    results = [r["content"] for r in last_user_blocks(server.requests_for("implement")[1])]
    assert results == [
        "x" * 100,
        "x" * 100,
        "x" * 50 + "\n[... cut: this turn's tool output reached its limit]",
        "Not run: this turn's tool output reached its limit of 250 characters. "
        "Ask for it again in your next turn.",
    ]


async def test_a_growing_conversation_loses_its_oldest_tool_output_first(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """40 kB per turn under a 100 kB request cap: every request fits, the oldest results are
    elided (ids kept), the newest is whole, and elision does not recur on the next turn."""
    turns = [Turn(tool_calls=[ToolCall("search", {"pattern": f"p{n}"})]) for n in range(5)]
    server.add_script("implement", [*turns, Turn(text="done")])
    tools = FakeTools(lambda name, tool_input: "y" * 40_000)

    outcome = await run(model, shared, tools, AgentBudget(max_request_bytes=100_000))

    assert outcome.status is AgentStatus.DONE
    requests = server.requests_for("implement")
    assert len(requests) == 6
    assert all(json_size(r.body) <= 100_000 for r in requests)

    def results(index: int) -> list[str]:
        messages = requests[index].body["messages"]
        return [
            block["content"]
            for message in messages
            for block in message["content"]
            if block["type"] == "tool_result"
        ]

    elided = "[40002 bytes of old tool output elided]"
    assert results(2) == ["y" * 40_000] * 2  # under the cap: nothing elided
    assert results(3) == [elided, elided, "y" * 40_000]
    assert results(4) == [elided, elided, "y" * 40_000, "y" * 40_000]
    asked = [
        block["id"]
        for r in requests[:5]
        for block in r.response["content"]
        if block["type"] == "tool_use"
    ]
    sent = [
        block["tool_use_id"]
        for message in requests[5].body["messages"]
        for block in message["content"]
        if block["type"] == "tool_result"
    ]
    assert sent == asked


async def test_a_request_that_cannot_fit_is_not_sent(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """A cap below the fixed prefix: no model call, 'budget: request size'."""
    server.add_script("implement", [Turn(text="never asked")])

    outcome = await run(model, shared, FakeTools(), AgentBudget(max_request_bytes=1_000))

    assert (outcome.status, outcome.stop_reason, outcome.turns) == (
        AgentStatus.BUDGET,
        "budget: request size",
        0,
    )
    assert server.requests_for("implement") == []


async def test_a_call_whose_input_alone_passes_the_token_budget_is_not_made(
    server: ScriptedModel, model: AnthropicModel, shared: SharedContext
) -> None:
    """A first request of ~1,500 estimated tokens against 1,000 allowed: 'budget: tokens'."""
    server.add_script("implement", [Turn(text="never asked")])

    outcome = await run(model, shared, FakeTools(), AgentBudget(max_tokens=1_000))

    assert (outcome.status, outcome.stop_reason, outcome.turns) == (
        AgentStatus.BUDGET,
        "budget: tokens",
        0,
    )
    assert server.requests_for("implement") == []

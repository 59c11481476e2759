"""The tool-use loop of one agent: plain `messages.create` calls in our own loop.

Per turn: check the budgets (before the call, so a limit is never passed by another call),
tell the agent about the other agents' new memory notes, fit the request under its size cap,
call the model, run its tool calls in order and send the results back. A response without tool
calls ends the loop. The time budget also binds around each call: a model call or a command
gets at most the time left (and a short grace), and once the deadline passes the turn's other
calls and the next model call are skipped. A turn runs a bounded number of calls with a
bounded total output; calls beyond get an error result (the API wants one for every call).
ModelError and cancellation propagate: the activity decides about retries, Temporal about
cancellation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from anthropic.types import Message, ToolUseBlock

from bot.agents.context import SharedContext, agent_prompt, memory_update
from bot.agents.limits import AgentBudget, elide_history, json_size
from bot.agents.model import ModelClient, usage_of
from bot.agents.toolbox import MemoryPort, ToolOutcome, ToolPort
from bot.core.plan import Role, SubTask
from bot.core.results import AgentStatus
from bot.core.usage import Usage

__all__ = ["AgentBudget", "AgentSpec", "LoopOutcome", "TurnInfo", "run_agent"]

DEFAULT_MAX_OUTPUT_TOKENS = 16_384
# A request's JSON bytes per token, roughly: enough to refuse a call that could not fit.
_BYTES_PER_TOKEN = 4


@dataclass(frozen=True)
class AgentSpec:
    """What one agent is asked to do; `feedback` (test output) makes it a fix round."""

    role: Role
    model: str
    shared: SharedContext
    subtask: SubTask | None = None
    feedback: str = ""
    conflict_files: tuple[str, ...] = ()
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS

    def for_conflict(self, files: Sequence[str]) -> AgentSpec:
        """The same agent, asked to resolve rebase conflicts in `files` (a new conversation)."""
        return dataclasses.replace(self, feedback="", conflict_files=tuple(files))

    def first_message(self) -> str:
        return agent_prompt(
            self.role,
            self.subtask,
            test_command=self.shared.test_command,
            feedback=self.feedback,
            conflict_files=self.conflict_files,
        )


@dataclass(frozen=True)
class TurnInfo:
    """Reported after each model response; `usage` is summed over the turns so far."""

    turn: int
    usage: Usage
    stop_reason: str
    tool_names: tuple[str, ...]


@dataclass
class LoopOutcome:
    status: AgentStatus
    turns: int
    usage: Usage
    stop_reason: str  # the model's last stop_reason, or "budget: turns|tokens|time"
    summary: str
    files_written: set[str] = field(default_factory=set)


async def run_agent(
    spec: AgentSpec,
    model: ModelClient,
    tools: ToolPort,
    memory: MemoryPort,
    *,
    budget: AgentBudget,
    on_turn: Callable[[TurnInfo], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LoopOutcome:
    agent = spec.role.value
    started = clock()
    deadline = started + budget.max_seconds
    usage = Usage()
    turns = 0
    seen_version = 0  # the memory version whose notes this agent has been shown
    summary = ""
    pending: list[dict[str, Any]] = [{"type": "text", "text": spec.first_message()}]
    messages: list[dict[str, Any]] = []

    def outcome(status: AgentStatus, stop_reason: str) -> LoopOutcome:
        return LoopOutcome(status, turns, usage, stop_reason, summary, tools.files_written)

    while True:
        reached = _budget_reached(budget, turns, usage, clock() - started)
        if reached:
            return outcome(AgentStatus.BUDGET, f"budget: {reached}")
        current = await memory.read()
        news = [n for n in current.since(seen_version) if n.agent != agent]
        seen_version = max(seen_version, current.version)
        if news:
            # Text after the tool_result blocks: the API wants tool results first.
            pending.append({"type": "text", "text": memory_update(news)})
        messages.append({"role": "user", "content": pending})
        request, size = _fitted_request(spec, messages, budget)
        reached = _request_refused(budget, usage, size)
        if reached:
            return outcome(AgentStatus.BUDGET, f"budget: {reached}")
        response = await _create_within(model, request, deadline - clock(), budget)
        if response is None:
            return outcome(AgentStatus.BUDGET, "budget: time")
        turns += 1
        usage = usage + usage_of(response)
        calls = [block for block in response.content if block.type == "tool_use"]
        summary = _text_of(response) or summary
        stop_reason = response.stop_reason or "end_turn"
        if on_turn is not None:
            await on_turn(TurnInfo(turns, usage, stop_reason, tuple(c.name for c in calls)))
        if stop_reason != "tool_use" or not calls:
            return outcome(AgentStatus.DONE, stop_reason)
        messages.append({"role": "assistant", "content": _assistant_content(response)})
        answers = await _answer_calls(calls, tools, agent, budget, deadline, clock)
        seen_version = max(seen_version, answers.memory_version)
        if answers.out_of_time:
            return outcome(AgentStatus.BUDGET, "budget: time")
        pending = answers.blocks


def _budget_reached(budget: AgentBudget, turns: int, usage: Usage, elapsed: float) -> str | None:
    if turns >= budget.max_turns:
        return "turns"
    if usage.total >= budget.max_tokens:
        return "tokens"
    if elapsed >= budget.max_seconds:
        return "time"
    return None


def _fitted_request(
    spec: AgentSpec, messages: list[dict[str, Any]], budget: AgentBudget
) -> tuple[dict[str, Any], int]:
    """The next request and its size, after eliding old output if it was over the cap (the
    elision stays in `messages`, so later requests share the shortened prefix)."""
    request = spec.shared.request(
        model=spec.model, messages=_with_breakpoint(messages), max_tokens=spec.max_output_tokens
    )
    size = json_size(request)
    if size > budget.max_request_bytes:
        size = elide_history(messages, size, budget.max_request_bytes)
        request["messages"] = _with_breakpoint(messages)
    return request, size


def _request_refused(budget: AgentBudget, usage: Usage, size: int) -> str | None:
    """Why a request of `size` bytes must not be sent: still too big after elision, or its
    input alone would take the agent past its token budget."""
    if size > budget.max_request_bytes:
        return "request size"
    if usage.total + size // _BYTES_PER_TOKEN >= budget.max_tokens:
        return "tokens"
    return None


async def _create_within(
    model: ModelClient, request: dict[str, Any], time_left: float, budget: AgentBudget
) -> Message | None:
    """The model's answer, or None when it would come after the deadline and its grace (an
    answer past the deadline would not be acted on anyway)."""
    try:
        async with asyncio.timeout(max(time_left, 0.0) + budget.call_grace_seconds):
            return await model.create(**request)
    except TimeoutError:
        return None


@dataclass
class _Answers:
    """A turn's tool results, in call order; `out_of_time` when the deadline cut it short."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    memory_version: int = 0
    out_of_time: bool = False


async def _answer_calls(
    calls: Sequence[ToolUseBlock],
    tools: ToolPort,
    agent: str,
    budget: AgentBudget,
    deadline: float,
    clock: Callable[[], float],
) -> _Answers:
    """Run a turn's calls in order within the turn's limits. Past the deadline nothing more
    runs (no result is needed: the conversation ends). Calls over the count or output limit
    are answered with an error instead of running."""
    answers = _Answers()
    room = budget.max_result_chars_per_turn
    for index, call in enumerate(calls):
        time_left = deadline - clock()
        if time_left <= 0:
            answers.out_of_time = True
            return answers
        if index >= budget.max_calls_per_turn:
            result = _not_run(f"at most {budget.max_calls_per_turn} tool calls run per turn")
        elif room <= 0:
            result = _not_run(
                f"this turn's tool output reached its limit of "
                f"{budget.max_result_chars_per_turn} characters"
            )
        else:
            result = await _call_within(tools, call, agent, time_left, budget.call_grace_seconds)
            result = dataclasses.replace(result, text=_capped(result.text, room))
            room -= len(result.text)
        if result.memory_version is not None:
            answers.memory_version = max(answers.memory_version, result.memory_version)
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": result.text,
        }
        if result.is_error:
            block["is_error"] = True
        answers.blocks.append(block)
    answers.out_of_time = clock() >= deadline
    return answers


async def _call_within(
    tools: ToolPort, call: ToolUseBlock, agent: str, time_left: float, grace: float
) -> ToolOutcome:
    """One call, cancelled if it overruns the agent's time left by more than `grace` (tools
    bound their own work by `time_left`; this holds for any tool that does not)."""
    try:
        async with asyncio.timeout(time_left + grace):
            return await tools.call(call.name, call.input, agent=agent, time_left=time_left)
    except TimeoutError:
        return ToolOutcome("Stopped: the agent's time budget ran out during this call.", True)


def _not_run(why: str) -> ToolOutcome:
    return ToolOutcome(f"Not run: {why}. Ask for it again in your next turn.", is_error=True)


def _capped(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    return text[:room] + "\n[... cut: this turn's tool output reached its limit]"


def _with_breakpoint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with a cache breakpoint on its last block, so the next turn reads the
    history from the cache; only the last message is copied (earlier ones stay unmarked)."""
    *earlier, last = messages
    content = [dict(block) for block in last["content"]]
    content[-1]["cache_control"] = {"type": "ephemeral"}
    return [*earlier, {**last, "content": content}]


def _assistant_content(response: Message) -> list[dict[str, Any]]:
    """The response's blocks as request parameters (the response models carry extra fields)."""
    blocks: list[dict[str, Any]] = []
    for block in response.content:
        if block.type == "text":
            blocks.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            blocks.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
            )
        else:
            blocks.append(block.model_dump(mode="json", exclude_none=True))
    return blocks


def _text_of(response: Message) -> str:
    return "\n".join(block.text for block in response.content if block.type == "text").strip()

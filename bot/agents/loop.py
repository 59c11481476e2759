"""The tool-use loop of one agent: plain `messages.create` calls in our own loop.

Per turn: check the budgets (before the call, so a limit is never passed by another call),
tell the agent about the other agents' new memory notes, fit the request under its size cap,
call the model, run its tool calls in order and send the results back. A response without tool
calls ends the loop. The time budget also binds around each call: a model call or a command
gets at most the time left (and a short grace), and once the deadline passes the turn's other
calls and the next model call are skipped. A turn runs a bounded number of calls with a
bounded total output; calls beyond get an error result (the API wants one for every call).
A transient model error is tried again for the same request, within the deadline
(agents/retry.py); a ModelError that remains, and cancellation, propagate. The loop knows its
model, tools and memory only as Protocols.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.agents.limits import AgentBudget, elide_history, json_size
from bot.agents.model import ModelClient, ModelReply, ToolUse
from bot.agents.ports import MemoryPort, ToolOutcome, Tools
from bot.agents.prompt import SharedContext, agent_prompt, memory_update
from bot.agents.retry import DEFAULT_RETRY, ModelRetry, retrying
from bot.core.plan import Role, SubTask
from bot.core.results import AgentStatus
from bot.core.usage import Usage

__all__ = ["AgentSpec", "LoopOutcome", "TurnInfo", "run_agent"]

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
    tools: Tools,
    memory: MemoryPort,
    *,
    budget: AgentBudget,
    on_turn: Callable[[TurnInfo], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    retry: ModelRetry = DEFAULT_RETRY,
) -> LoopOutcome:
    talk = _Conversation(spec, tools, memory, budget, clock, started=clock())
    while True:
        request, reached = await talk.next_request()
        if request is None:
            return talk.outcome(AgentStatus.BUDGET, f"budget: {reached}")
        reply = await _create_within(model, request, talk, retry)
        if reply is None:
            return talk.outcome(AgentStatus.BUDGET, "budget: time")
        talk.record(reply)
        calls = reply.tool_uses
        stop_reason = reply.stop_reason or "end_turn"
        if on_turn is not None:
            await on_turn(
                TurnInfo(talk.turns, talk.usage, stop_reason, tuple(c.name for c in calls))
            )
        if stop_reason != "tool_use" or not calls:
            return talk.outcome(AgentStatus.DONE, stop_reason)
        talk.messages.append({"role": "assistant", "content": reply.params()})
        answers = await _answer_calls(calls, tools, spec.role.value, budget, talk.deadline, clock)
        talk.seen_version = max(talk.seen_version, answers.memory_version)
        if answers.out_of_time:
            return talk.outcome(AgentStatus.BUDGET, "budget: time")
        talk.pending = answers.blocks


@dataclass
class _Conversation:
    """One agent's conversation so far, and what it has used."""

    spec: AgentSpec
    tools: Tools
    memory: MemoryPort
    budget: AgentBudget
    clock: Callable[[], float]
    started: float
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    seen_version: int = 0  # the memory version whose notes this agent has been shown
    summary: str = ""
    pending: list[dict[str, Any]] = field(default_factory=list)  # the next user message
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pending = [{"type": "text", "text": self.spec.first_message()}]

    @property
    def deadline(self) -> float:
        return self.started + self.budget.max_seconds

    def outcome(self, status: AgentStatus, stop_reason: str) -> LoopOutcome:
        files = self.tools.files_written
        return LoopOutcome(status, self.turns, self.usage, stop_reason, self.summary, files)

    async def next_request(self) -> tuple[dict[str, Any] | None, str]:
        """The next request, or None and the budget that stops the agent first."""
        reached = _budget_reached(self.budget, self.turns, self.usage, self.clock() - self.started)
        if reached:
            return None, reached
        current = await self.memory.read()
        agent = self.spec.role.value
        news = [note for note in current.since(self.seen_version) if note.agent != agent]
        self.seen_version = max(self.seen_version, current.version)
        if news:
            # Text after the tool_result blocks: the API wants tool results first.
            self.pending.append({"type": "text", "text": memory_update(news)})
        self.messages.append({"role": "user", "content": self.pending})
        request, size = _fitted_request(self.spec, self.messages, self.budget)
        reached = _request_refused(self.budget, self.usage, size) or ""
        return (None, reached) if reached else (request, "")

    def record(self, reply: ModelReply) -> None:
        self.turns += 1
        self.usage = self.usage + reply.usage
        self.summary = reply.text or self.summary


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
    model: ModelClient, request: dict[str, Any], talk: _Conversation, retry: ModelRetry
) -> ModelReply | None:
    """The model's answer (transient errors tried again), or None when it would come after the
    deadline and its grace (an answer past the deadline would not be acted on anyway)."""
    grace = talk.budget.call_grace_seconds

    async def once() -> ModelReply:
        async with asyncio.timeout(max(talk.deadline - talk.clock(), 0.0) + grace):
            return await model.create(**request)

    try:
        return await retrying(once, retry, deadline=talk.deadline, clock=talk.clock)
    except TimeoutError:
        return None


@dataclass
class _Answers:
    """A turn's tool results, in call order; `out_of_time` when the deadline cut it short."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    memory_version: int = 0
    out_of_time: bool = False


async def _answer_calls(
    calls: Sequence[ToolUse],
    tools: Tools,
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
        answers.blocks.append(_result_block(call, result))
    answers.out_of_time = clock() >= deadline
    return answers


def _result_block(call: ToolUse, result: ToolOutcome) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call.id, "content": result.text}
    if result.is_error:
        block["is_error"] = True
    return block


async def _call_within(
    tools: Tools, call: ToolUse, agent: str, time_left: float, grace: float
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

"""The tool-use loop of one agent: plain `messages.create` calls in our own loop.

Per turn: check the budgets (before the call, so a limit is never passed by another call),
tell the agent about the other agents' new memory notes, call the model, run its tool calls in
order and send the results back. A response without tool calls ends the loop. ModelError and
cancellation propagate: the activity decides about retries, Temporal about cancellation.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from anthropic.types import Message

from bot.agents.context import SharedContext, agent_prompt, memory_update
from bot.agents.model import ModelClient, usage_of
from bot.agents.toolbox import MemoryPort, Toolbox
from bot.plan import Role, SubTask
from bot.run_models import AgentStatus, Usage

__all__ = ["AgentBudget", "AgentSpec", "LoopOutcome", "TurnInfo", "run_agent"]

DEFAULT_MAX_OUTPUT_TOKENS = 16_384


@dataclass(frozen=True)
class AgentBudget:
    max_turns: int = 30
    max_tokens: int = 300_000  # input + output + cache read + cache write, summed over turns
    max_seconds: float = 900.0


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
    tools: Toolbox,
    memory: MemoryPort,
    *,
    budget: AgentBudget,
    on_turn: Callable[[TurnInfo], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LoopOutcome:
    agent = spec.role.value
    started = clock()
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
        request = spec.shared.request(
            model=spec.model, messages=_with_breakpoint(messages), max_tokens=spec.max_output_tokens
        )
        response = await model.create(**request)
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
        pending = []
        for call in calls:
            result = await tools.call(call.name, call.input, agent=agent)
            if result.memory_version is not None:
                seen_version = max(seen_version, result.memory_version)
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": call.id,
                "content": result.text,
            }
            if result.is_error:
                block["is_error"] = True
            pending.append(block)


def _budget_reached(budget: AgentBudget, turns: int, usage: Usage, elapsed: float) -> str | None:
    if turns >= budget.max_turns:
        return "turns"
    if usage.total >= budget.max_tokens:
        return "tokens"
    if elapsed >= budget.max_seconds:
        return "time"
    return None


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

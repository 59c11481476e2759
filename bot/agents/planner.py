"""The planner: one forced `submit_plan` tool call, validated into a Plan, with one retry.

Only the planner sees the raw request and issue, cleaned and inside `<untrusted-data>` blocks;
the agents see the plan it produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.agents.model import ModelClient, ModelReply, TextBlock, ToolUse
from bot.agents.prompt import render
from bot.core.plan import PLAN_TOOL_NAME, Plan, Role, plan_tool
from bot.core.untrusted import data_block
from bot.core.usage import Usage
from bot.core.validation import brief
from bot.errors import BotError

__all__ = ["PlanInvalid", "PlanOutcome", "make_plan"]

PLANNER_MAX_TOKENS = 8192
MAX_ATTEMPTS = 2
_MAX_TITLE_CHARS = 500
_MAX_TEXT_CHARS = 20_000
_MAX_SUMMARY_CHARS = 40_000
_MAX_ERRORS = 6


class PlanInvalid(BotError):
    """The planner twice returned no valid plan. `usage`: the tokens its calls used (the run
    still pays for them)."""

    def __init__(self, reason: str, usage: Usage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage if usage is not None else Usage()


@dataclass(frozen=True)
class PlanOutcome:
    plan: Plan
    usage: Usage
    attempts: int


async def make_plan(
    model: ModelClient,
    *,
    model_name: str,
    task: str,
    issue_title: str,
    issue_body: str,
    repo_summary: str,
    default_test_command: str | None,
    allowed_roles: Sequence[Role],
) -> PlanOutcome:
    """A valid plan limited to `allowed_roles`, or PlanInvalid after two unusable answers."""
    roles = [role for role in Role if role in allowed_roles]
    hint = (
        f"The repository configures `{default_test_command}`: use it."
        if default_test_command
        else "Infer it from the repository (its CI, Makefile, package manifest or README)."
    )
    system = render("planner", roles=", ".join(r.value for r in roles), test_command_hint=hint)
    request = render(
        "planner_request",
        task=data_block("task", task, limit=_MAX_TEXT_CHARS),
        issue_title=data_block("issue_title", issue_title, limit=_MAX_TITLE_CHARS),
        issue_body=data_block("issue_body", issue_body, limit=_MAX_TEXT_CHARS),
        repository=data_block("repository_summary", repo_summary, limit=_MAX_SUMMARY_CHARS),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": request}]
    usage = Usage()
    problem = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        reply = await model.create(
            model=model_name,
            max_tokens=PLANNER_MAX_TOKENS,
            system=system,
            tools=[plan_tool()],
            tool_choice={"type": "tool", "name": PLAN_TOOL_NAME},
            messages=messages,
        )
        usage = usage + reply.usage
        call = _plan_call(reply)
        checked = _checked(call, roles, default_test_command)
        if isinstance(checked, Plan):
            return PlanOutcome(plan=checked, usage=usage, attempts=attempt)
        problem = checked
        messages += _retry_messages(reply, call, problem)
    raise PlanInvalid(f"the planner returned no valid plan twice: {problem}", usage=usage)


def _plan_call(reply: ModelReply) -> ToolUse | None:
    return next((call for call in reply.tool_uses if call.name == PLAN_TOOL_NAME), None)


def _checked(call: ToolUse | None, roles: Sequence[Role], test_command: str | None) -> Plan | str:
    """The plan the call submitted, restricted to `roles`, or what is wrong with it."""
    if call is None:
        return f"no `{PLAN_TOOL_NAME}` tool call in the answer"
    try:
        plan = Plan.model_validate(call.input)
    except ValidationError as exc:
        # Field paths and messages only, never the offending input.
        return brief(exc, root="plan", limit=_MAX_ERRORS)
    kept = [subtask for subtask in plan.subtasks if subtask.role in roles]
    if not kept:
        allowed = ", ".join(r.value for r in roles)
        return f"subtasks: only these agents may be used: {allowed}"
    return plan.model_copy(
        update={"subtasks": kept, "test_command": plan.test_command or test_command or ""}
    )


def _retry_messages(reply: ModelReply, call: ToolUse | None, problem: str) -> list[dict[str, Any]]:
    """The failed answer and the error sent back: as the tool's error result when it called."""
    error = render("plan_retry", errors=problem)
    if call is None:
        answer = [{"role": "assistant", "content": reply.text}] if reply.text else []
        return [*answer, {"role": "user", "content": error}]
    said = [block.to_param() for block in reply.content if isinstance(block, TextBlock)]
    assistant = {"role": "assistant", "content": [*said, call.to_param()]}
    result = {"type": "tool_result", "tool_use_id": call.id, "content": error, "is_error": True}
    return [assistant, {"role": "user", "content": [result]}]

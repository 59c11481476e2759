"""The planner: one forced `submit_plan` tool call, validated into a Plan, with one retry.

Only the planner sees the raw request and issue, cleaned and inside `<untrusted-data>` blocks;
the agents see the plan it produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anthropic.types import Message, ToolUseBlock
from pydantic import ValidationError

from bot.agents.context import render
from bot.agents.model import ModelClient, usage_of
from bot.core.plan import PLAN_TOOL_NAME, Plan, Role, plan_tool
from bot.core.untrusted import data_block
from bot.core.usage import Usage
from bot.errors import PlanInvalid

__all__ = ["PlanOutcome", "make_plan"]

PLANNER_MAX_TOKENS = 8192
MAX_ATTEMPTS = 2
_MAX_TITLE_CHARS = 500
_MAX_TEXT_CHARS = 20_000
_MAX_SUMMARY_CHARS = 40_000
_MAX_ERRORS = 6


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
        response = await model.create(
            model=model_name,
            max_tokens=PLANNER_MAX_TOKENS,
            system=system,
            tools=[plan_tool()],
            tool_choice={"type": "tool", "name": PLAN_TOOL_NAME},
            messages=messages,
        )
        usage = usage + usage_of(response)
        call = _plan_call(response)
        if call is None:
            problem = f"no `{PLAN_TOOL_NAME}` tool call in the answer"
        else:
            try:
                plan = Plan.model_validate(call.input)
            except ValidationError as exc:
                problem = _brief(exc)
            else:
                restricted = _restricted(plan, roles, default_test_command)
                if isinstance(restricted, Plan):
                    return PlanOutcome(plan=restricted, usage=usage, attempts=attempt)
                problem = restricted
        messages += _retry_messages(response, call, problem)
    raise PlanInvalid(f"the planner returned no valid plan twice: {problem}", usage=usage)


def _plan_call(response: Message) -> ToolUseBlock | None:
    return next(
        (b for b in response.content if isinstance(b, ToolUseBlock) and b.name == PLAN_TOOL_NAME),
        None,
    )


def _restricted(plan: Plan, roles: Sequence[Role], test_command: str | None) -> Plan | str:
    """The plan without subtasks for roles the repository does not allow, or the problem."""
    kept = [subtask for subtask in plan.subtasks if subtask.role in roles]
    if not kept:
        allowed = ", ".join(r.value for r in roles)
        return f"subtasks: only these agents may be used: {allowed}"
    return plan.model_copy(
        update={"subtasks": kept, "test_command": plan.test_command or test_command or ""}
    )


def _retry_messages(
    response: Message, call: ToolUseBlock | None, problem: str
) -> list[dict[str, Any]]:
    """The failed answer and the error sent back: as the tool's error result when it called."""
    error = render("plan_retry", errors=problem)
    if call is None:
        text = "\n".join(b.text for b in response.content if b.type == "text").strip()
        answer = [{"role": "assistant", "content": text}] if text else []
        return [*answer, {"role": "user", "content": error}]
    said = [{"type": "text", "text": b.text} for b in response.content if b.type == "text"]
    used = {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
    assistant = {"role": "assistant", "content": [*said, used]}
    result = {"type": "tool_result", "tool_use_id": call.id, "content": error, "is_error": True}
    return [assistant, {"role": "user", "content": [result]}]


def _brief(exc: ValidationError) -> str:
    """The validation errors, short: field path and message (never the offending input)."""
    errors = exc.errors()
    shown = [
        f"{'.'.join(str(p) for p in error['loc']) or 'plan'}: {error['msg']}"
        for error in errors[:_MAX_ERRORS]
    ]
    more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
    return "; ".join(shown) + more

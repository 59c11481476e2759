"""The Plan model: what the planner must return, and what it may not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.core.plan import PLAN_TOOL_NAME, Plan, Role, plan_tool
from tests.support.project import plan_input


def test_full_plan_validates_with_roles_in_a_fixed_order() -> None:
    """A three-agent plan parses; roles come back as implement, test, docs."""
    plan = Plan.model_validate(plan_input(("docs", "implement", "test")))
    assert plan.roles == [Role.IMPLEMENT, Role.TEST, Role.DOCS]
    assert plan.subtask(Role.DOCS) is not None and plan.subtask(Role.DOCS).files == ["README.md"]  # type: ignore[union-attr]


def test_one_agent_plan_is_allowed() -> None:
    """A task that does not decompose uses one agent and says why."""
    plan = Plan.model_validate(plan_input(("implement",), "a one-line typo fix"))
    assert plan.roles == [Role.IMPLEMENT]
    assert plan.fewer_agents_reason == "a one-line typo fix"
    assert plan.subtask(Role.TEST) is None


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda p: p.update(subtasks=[]), "at least 1 item"),
        (lambda p: p.update(subtasks=p["subtasks"] + [p["subtasks"][0]]), "at most 3 items"),
        (
            lambda p: p["subtasks"].__setitem__(1, {**p["subtasks"][0]}),
            "each role may appear in at most one subtask",
        ),
        (lambda p: p["subtasks"][0].update(role="reviewer"), "'implement', 'test' or 'docs'"),
        (lambda p: p.pop("contract"), "contract"),
        (lambda p: p["subtasks"][0].update(acceptance=[]), "at least 1 item"),
    ],
)
def test_invalid_plans_are_refused(mutate: object, error: str) -> None:
    """Plans without subtasks, with duplicate or unknown roles, or missing parts are invalid."""
    data = plan_input()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ValidationError, match=error):
        Plan.model_validate(data)


def test_plan_tool_schema_is_the_model_schema() -> None:
    """The forced tool's input schema is generated from the Plan model."""
    tool = plan_tool()
    assert tool["name"] == PLAN_TOOL_NAME
    assert tool["input_schema"] == Plan.model_json_schema()
    assert set(tool["input_schema"]["required"]) == {"summary", "contract", "subtasks"}

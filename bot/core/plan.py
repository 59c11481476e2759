"""The plan the orchestrator model returns (a forced tool call validated into these models)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

PLAN_TOOL_NAME = "submit_plan"


class Role(StrEnum):
    IMPLEMENT = "implement"
    TEST = "test"
    DOCS = "docs"


# Who else may be named where work is counted: the planner's own calls, and commits that carry
# no agent trailer.
ORCHESTRATOR = "orchestrator"
UNKNOWN_AGENT = "unknown"


def role_rank(name: str) -> tuple[int, str]:
    """The order in which tables list who did work: the plan's roles, the orchestrator, any
    other name alphabetically, and "unknown" last."""
    order = [*(role.value for role in Role), ORCHESTRATOR]
    if name in order:
        return order.index(name), name
    return len(order) + (name == UNKNOWN_AGENT), name


class Interface(BaseModel):
    """One thing the agents must agree on: a function, a CLI flag, a config key, a class."""

    name: str = Field(min_length=1, max_length=200)
    file: str = Field(min_length=1, max_length=300)
    signature: str = Field(default="", max_length=500)
    behaviour: str = Field(min_length=1, max_length=2000)


class Contract(BaseModel):
    files: list[str] = Field(default_factory=list, max_length=50)
    interfaces: list[Interface] = Field(default_factory=list, max_length=30)
    behaviours: list[str] = Field(default_factory=list, max_length=30)


class SubTask(BaseModel):
    role: Role
    goal: str = Field(min_length=1, max_length=2000)
    acceptance: list[str] = Field(min_length=1, max_length=15)
    files: list[str] = Field(default_factory=list, max_length=30)


class Plan(BaseModel):
    summary: str = Field(min_length=1, max_length=2000)
    contract: Contract
    subtasks: list[SubTask] = Field(min_length=1, max_length=3)
    test_command: str = Field(default="", max_length=500)
    fewer_agents_reason: str = Field(
        default="",
        max_length=1000,
        description="Why fewer than three agents are used; empty when all three run.",
    )

    @model_validator(mode="after")
    def _one_subtask_per_role(self) -> Plan:
        roles = [subtask.role for subtask in self.subtasks]
        if len(roles) != len(set(roles)):
            raise ValueError("each role may appear in at most one subtask")
        return self

    @property
    def roles(self) -> list[Role]:
        order = list(Role)
        return sorted((s.role for s in self.subtasks), key=order.index)

    def subtask(self, role: Role) -> SubTask | None:
        return next((s for s in self.subtasks if s.role is role), None)


def plan_tool() -> dict[str, Any]:
    """The tool the planner is forced to call; its input schema is the Plan model."""
    return {
        "name": PLAN_TOOL_NAME,
        "description": (
            "Submit the plan: a summary, the interface contract every agent must follow, one "
            "subtask per agent that is really needed (implement, test, docs), and the command "
            "that runs the repository's tests."
        ),
        "input_schema": Plan.model_json_schema(),
    }

"""What a run records as it goes: agent results, test rounds, timeline spans."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from bot.core.commit_policy import Refusal
from bot.core.plan import Role
from bot.core.usage import Usage


class AgentStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    BUDGET = "stopped at budget"
    CANCELLED = "cancelled"


class AgentResult(BaseModel):
    """One agent activity's outcome (one per agent per round it ran in)."""

    role: str
    round: int = 1
    status: AgentStatus
    model: str
    turns: int = 0
    usage: Usage = Field(default_factory=Usage)
    commits: list[str] = Field(default_factory=list)
    refused: list[Refusal] = Field(default_factory=list)  # changes the write policy dropped
    summary: str = ""
    stop_reason: str = ""  # e.g. "end_turn", "budget: turns", "error: ..."


class TestRound(BaseModel):
    round: int
    command: str
    passed: bool
    exit_code: int | None
    timed_out: bool = False
    duration_s: float = 0.0
    output_tail: str = ""
    sent_to: str | None = None  # the role the failure went back to, if any


class Span(BaseModel):
    """One bar of the run's gantt chart."""

    label: str
    section: str
    start: str  # ISO times (workflow time)
    end: str


class AgentLine(BaseModel):
    """One agent's line of the checklist (mutable: the workflow updates it as the run goes)."""

    status: AgentStatus = AgentStatus.QUEUED
    turns: int = 0
    tokens: int = 0


class AgentProgress(BaseModel):
    """Sent by an agent activity to its run after each model turn."""

    role: Role
    round: int
    turns: int
    tokens: int

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
    """One agent's outcome in one round (one per agent per round it ran in). From an activity,
    `turns` and `usage` are that attempt's and `branch` is the per-agent branch holding its
    commit; in the run, they are every attempt's and `commits` what landed on the branch."""

    role: str
    round: int = 1
    status: AgentStatus
    model: str
    turns: int = 0
    usage: Usage = Field(default_factory=Usage)
    commits: list[str] = Field(default_factory=list)
    attempt: int = 1  # the activity attempt that produced it
    branch: str = ""  # the per-agent branch its commit was pushed to ("": no commit)
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
    """Sent by an agent activity to its run after each model turn: what this attempt (of its
    work, or of its `conflict`-th resolution) has used so far. The run keeps the last report of
    each attempt, so a failed or killed attempt's usage still counts."""

    role: Role
    round: int
    turns: int
    usage: Usage = Field(default_factory=Usage)
    attempt: int = 1
    conflict: int = 0  # 0: the agent's work; n: its n-th rebase conflict resolution

    @property
    def tokens(self) -> int:
        return self.usage.total


class ModelUsage(BaseModel):
    """Sent by the planner and the cache warmer after each model call (and returned at the
    end): what this attempt of `call` has used so far."""

    call: str  # "plan", "warm cache"
    attempt: int = 1
    usage: Usage = Field(default_factory=Usage)

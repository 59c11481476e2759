"""What a run records as it goes: agent results, usage, test rounds, timeline spans."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from bot.commit_policy import Refusal


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


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
    started_at: str = ""
    ended_at: str = ""


class TestRound(BaseModel):
    round: int
    command: str
    passed: bool
    exit_code: int | None
    timed_out: bool = False
    duration_s: float = 0.0
    output_tail: str = ""
    head: str = ""
    sent_to: str | None = None  # the role the failure went back to, if any


class Span(BaseModel):
    """One bar of the run's gantt chart."""

    label: str
    section: str
    start: str  # ISO times (workflow time)
    end: str

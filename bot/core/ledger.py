"""What a run's model calls used, attempt by attempt: the last report of each attempt counts, so
the usage of an attempt that failed, was killed or lost its answer is never dropped, and a
report that arrives twice (or late, out of order) is never counted twice.

Reports are cumulative within their attempt: the largest one of an attempt is its usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.results import AgentProgress, ModelUsage
from bot.core.usage import Usage

_AgentKey = tuple[str, int, int, int]  # role, round, conflict, attempt


@dataclass(frozen=True)
class Spent:
    turns: int = 0
    usage: Usage = field(default_factory=Usage)

    def __add__(self, other: Spent) -> Spent:
        return Spent(self.turns + other.turns, self.usage + other.usage)


@dataclass
class UsageLedger:
    agents: dict[_AgentKey, Spent] = field(default_factory=dict)
    calls: dict[tuple[str, int], Usage] = field(default_factory=dict)

    def agent_report(self, progress: AgentProgress) -> None:
        key = (progress.role.value, progress.round, progress.conflict, progress.attempt)
        seen = self.agents.get(key, Spent())
        if (progress.turns, progress.usage.total) >= (seen.turns, seen.usage.total):
            self.agents[key] = Spent(progress.turns, progress.usage)

    def call_report(self, report: ModelUsage) -> None:
        key = (report.call, report.attempt)
        if report.usage.total >= self.calls.get(key, Usage()).total:
            self.calls[key] = report.usage

    def agent(self, role: str, round_number: int | None = None) -> Spent:
        """A role's turns and usage over every attempt and conflict resolution, in one round
        or (None) in all of them."""
        spent = Spent()
        for (name, number, _, _), part in self.agents.items():
            if name == role and round_number in (None, number):
                spent = spent + part
        return spent

    def orchestrator(self) -> Usage:
        """The planner's and the cache warmer's calls, every attempt."""
        total = Usage()
        for usage in self.calls.values():
            total = total + usage
        return total

    def total(self) -> Usage:
        usage = self.orchestrator()
        for part in self.agents.values():
            usage = usage + part.usage
        return usage

"""The usage ledger: the last report of each attempt counts, once, whatever happened to it."""

from __future__ import annotations

from bot.core.ledger import Spent, UsageLedger
from bot.core.plan import Role
from bot.core.results import AgentProgress, ModelUsage
from bot.core.usage import Usage


def turn(turns: int, tokens: int, *, attempt: int = 1, conflict: int = 0, round_number: int = 1,
         role: Role = Role.IMPLEMENT) -> AgentProgress:  # fmt: skip
    usage = Usage(input_tokens=tokens)
    return AgentProgress(
        role=role, round=round_number, turns=turns, usage=usage, attempt=attempt, conflict=conflict
    )


def test_every_attempts_last_report_counts_once() -> None:
    """A killed attempt's last report, a retried one's reports (one sent twice, one late and
    smaller) and a conflict resolution add up to exactly what each attempt last said."""
    ledger = UsageLedger()
    for report in [
        turn(1, 100),
        turn(2, 250),  # attempt 1 is killed after its second turn
        turn(1, 120, attempt=2),
        turn(1, 120, attempt=2),  # the same report delivered twice
        turn(3, 400, attempt=2),
        turn(2, 300, attempt=2),  # an older report arriving late
        turn(1, 50, conflict=1),
        turn(4, 40, role=Role.DOCS),
    ]:
        ledger.agent_report(report)
    assert ledger.agent("implement", 1) == Spent(6, Usage(input_tokens=700))
    assert ledger.agent("implement", 2) == Spent()
    assert ledger.agent("docs") == Spent(4, Usage(input_tokens=40))
    assert ledger.total().input_tokens == 740


def test_rounds_are_apart_and_the_orchestrators_calls_add_up() -> None:
    """A role's rounds are kept apart (and summed for its line); the planner's two attempts and
    the cache warmer count for the orchestrator, a repeated report once."""
    ledger = UsageLedger()
    ledger.agent_report(turn(2, 10))
    ledger.agent_report(turn(1, 5, round_number=2))
    for call, attempt, tokens in [
        ("plan", 1, 30),
        ("plan", 2, 35),
        ("plan", 2, 35),
        ("warm cache", 1, 7),
    ]:
        ledger.call_report(
            ModelUsage(call=call, attempt=attempt, usage=Usage(output_tokens=tokens))
        )
    assert ledger.agent("implement", 2) == Spent(1, Usage(input_tokens=5))
    assert ledger.agent("implement") == Spent(3, Usage(input_tokens=15))
    assert ledger.orchestrator() == Usage(output_tokens=72)
    assert ledger.total().total == 87

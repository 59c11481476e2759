"""The tests section of a pull request: one row per test round, the failing output below."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.results import TestRound
from bot.render.markdown import code_span, details, fenced, inline, table

OUTPUT_CHARS = (6000, 2500, 1000, 300, 0)  # test output shown per failing round, then less


def _tail(output: str, chars: int) -> str:
    """The last `chars` characters of `output`, from a line start when there is one."""
    if len(output) <= chars:
        return output
    tail = output[-chars:]
    newline = tail.find("\n")
    return tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail


def _result(test: TestRound) -> str:
    if test.passed:
        return "✅ passed"
    return "⏱️ timed out" if test.timed_out else "❌ failed"


def render_tests(rounds: Sequence[TestRound], output_chars: int = OUTPUT_CHARS[0]) -> str:
    if not rounds:
        return "## Tests\n\n_No test command: the tests were not run._"
    rows = [
        [
            str(t.round),
            code_span(t.command, 200),
            _result(t),
            "–" if t.exit_code is None else str(t.exit_code),
            f"{t.duration_s:.1f} s",
            inline(t.sent_to, 40) if t.sent_to else "–",
        ]
        for t in rounds
    ]
    header = ["Round", "Command", "Result", "Exit code", "Duration", "Failure sent to"]
    parts = ["## Tests", table(header, rows)]
    failing = [t for t in rounds if not t.passed and t.output_tail.strip()]
    for test in failing:
        if output_chars <= 0:
            continue
        tail = _tail(test.output_tail.rstrip(), output_chars)
        summary = f"Round {test.round} output"
        if len(tail) < len(test.output_tail.rstrip()):
            summary += f" (last {len(tail):,} characters)"
        parts.append(details(summary, fenced(tail)))
    if failing and output_chars <= 0:
        parts.append("_The failing output was cut to fit GitHub's size limit._")
    return "\n\n".join(parts)

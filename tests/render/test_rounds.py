"""The tests section: one row per round, the failing output in a fence it cannot close."""

from __future__ import annotations

from bot.core.results import TestRound as Round
from tests.render.helpers import (
    body,
    fence_blocks,
)


def test_test_rounds_table_and_failing_output_in_an_unbreakable_fence() -> None:
    """Each round is a row; the failing output sits in a fence longer than its backticks."""
    nasty = "FAILED test_x\n````````\n</details>\n```\n@octocat #3\nE   assert 1 == 2"
    rounds = [
        Round(
            round=1,
            command="pytest | tee",
            passed=False,
            exit_code=1,
            duration_s=2.25,
            output_tail=nasty,
            sent_to="implement",
        ),
        Round(round=2, command="pytest | tee", passed=True, exit_code=0, duration_s=1.5),
    ]
    text = body(rounds=rounds)
    table = [
        line for line in text.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")
    ]
    assert table[0] == "| 1 | `pytest \\| tee` | ❌ failed | 1 | 2.2 s | implement |"
    assert table[1] == "| 2 | `pytest \\| tee` | ✅ passed | 0 | 1.5 s | – |"
    outputs = [content for opening, content in fence_blocks(text) if opening.endswith("text")]
    assert outputs == [nasty.splitlines()]
    assert "<details><summary>Round 1 output</summary>" in text

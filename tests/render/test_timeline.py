"""The timeline: a gantt with one section per phase, in UTC, named safely."""

from __future__ import annotations

from bot.core.results import Span
from tests.render.helpers import (
    body,
    fence_blocks,
)


def test_gantt_has_one_section_per_phase_in_order_with_utc_seconds() -> None:
    """plan, agents, tests, pull request sections; times converted to UTC; labels cleaned."""
    spans = [
        Span(
            label="tests round 1",
            section="tests",
            start="2025-01-02T05:10:00+02:00",
            end="2025-01-02T05:10:30+02:00",
        ),
        Span(
            label="plan",
            section="plan",
            start="2025-01-02T03:00:00.9+00:00",
            end="2025-01-02T03:00:00.95+00:00",
        ),
        Span(
            label="impl: (round 1) #2",
            section="agents",
            start="2025-01-02T03:01:00+00:00",
            end="2025-01-02T03:09:00+00:00",
        ),
        Span(
            label="pull request",
            section="pull request",
            start="2025-01-02T03:11:00+00:00",
            end="2025-01-02T03:11:05+00:00",
        ),
        Span(label="broken", section="agents", start="not a time", end="x"),
    ]
    gantt = next(
        content for opening, content in fence_blocks(body(spans=spans)) if "gantt" in content
    )
    assert [line.strip() for line in gantt] == [
        "gantt",
        "dateFormat YYYY-MM-DD HH:mm:ss",
        "axisFormat %H:%M:%S",
        "todayMarker off",
        "section plan",
        "plan :t1, 2025-01-02 03:00:00, 2025-01-02 03:00:01",
        "section agents",
        "impl round 1 2 :t2, 2025-01-02 03:01:00, 2025-01-02 03:09:00",
        "section tests",
        "tests round 1 :t3, 2025-01-02 03:10:00, 2025-01-02 03:10:30",
        "section pull request",
        "pull request :t4, 2025-01-02 03:11:00, 2025-01-02 03:11:05",
    ]


def test_gantt_task_named_like_a_statement_stays_a_task() -> None:
    """A span label starting with a gantt keyword is not read as a section or a title."""
    spans = [
        Span(label=label, section="agents", start="2025-01-02T03:00:00", end="2025-01-02T03:00:09")
        for label in ("section x", "Title: y")
    ]
    gantt = next(content for _, content in fence_blocks(body(spans=spans)) if "gantt" in content)
    assert [line.strip() for line in gantt[4:]] == [
        "section agents",
        "- section x :t1, 2025-01-02 03:00:00, 2025-01-02 03:00:09",
        "- Title y :t2, 2025-01-02 03:00:00, 2025-01-02 03:00:09",
    ]

"""The timeline of a pull request: a mermaid gantt of the run's spans, one section per phase."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.core.results import Span
from bot.render.markdown import mermaid_label

PHASES = ("plan", "environment", "agents", "tests", "pull request")
_GANTT_KEYWORDS = frozenset(
    [
        "section",
        "title",
        "dateformat",
        "axisformat",
        "tickinterval",
        "excludes",
        "includes",
        "todaymarker",
        "weekday",
        "click",
        "acctitle",
        "accdescr",
    ]
)


def _utc(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def render_gantt(spans: Sequence[Span]) -> str:
    """A mermaid gantt of the spans, one section per phase, times in UTC to the second."""
    sections: dict[str, list[tuple[str, datetime, datetime]]] = {}
    for span in spans:
        start, end = _utc(span.start), _utc(span.end)
        if start is None or end is None:
            continue
        start = start.replace(microsecond=0)
        # A bar shorter than a second would vanish at this resolution.
        end = max(end.replace(microsecond=0), start + timedelta(seconds=1))
        sections.setdefault(span.section, []).append((span.label, start, end))
    if not sections:
        return ""
    rank = {phase: index for index, phase in enumerate(PHASES)}
    ordered = sorted(sections, key=lambda name: rank.get(name, len(PHASES)))
    lines = [
        "## Timeline",
        "",
        "```mermaid",
        "gantt",
        "    dateFormat YYYY-MM-DD HH:mm:ss",
        "    axisFormat %H:%M:%S",
        "    todayMarker off",
    ]
    number = 0
    form = "%Y-%m-%d %H:%M:%S"
    for name in ordered:
        lines.append(f"    section {mermaid_label(name, 30)}")
        for label, start, end in sections[name]:
            number += 1
            when = f"{start.strftime(form)}, {end.strftime(form)}"
            name = mermaid_label(label)
            if name.split()[0].lower() in _GANTT_KEYWORDS:  # would be read as a statement
                name = f"- {name}"
            lines.append(f"    {name} :t{number}, {when}")
    lines += ["```", "", "<sub>Times in UTC.</sub>"]
    return "\n".join(lines)

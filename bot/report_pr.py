"""The pull request description: summary, attribution, the agents' summaries, tests, cost,
timeline, shared memory.

Deterministic (every time comes from the run's spans) and capped under GitHub's body limit: the
shared memory is cut first, then the agents' summaries, then the test output, then attribution
rows, each with a note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.core.memory import Memory, Note
from bot.core.plan import Plan
from bot.core.pricing import PriceTable
from bot.core.results import AgentResult, Span, TestRound
from bot.core.usage import Usage
from bot.report_cost import render_cost
from bot.report_md import (
    Section,
    block,
    code_span,
    fenced,
    fit,
    inline,
    mermaid_label,
    size,
    table,
)
from bot.report_plan import details, keep_head

PR_MARKER = "<!-- orchestrate:pr -->"
OUTPUT_CHARS = (6000, 2500, 1000, 300, 0)  # test output shown per failing round, then less
SUMMARY_CHARS = (3000, 1000, 300, 0)  # an agent's summary as shown, then less
PHASES = ("plan", "agents", "tests", "pull request")
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


# ---- tests ---------------------------------------------------------------------------------


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


def _shrink_tests(rounds: Sequence[TestRound], max_size: int) -> str:
    for chars in OUTPUT_CHARS[1:]:
        text = render_tests(rounds, chars)
        if size(text) <= max_size:
            break
    return text


# ---- timeline ------------------------------------------------------------------------------


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


# ---- attribution and memory ----------------------------------------------------------------


def shrink_table(heading: str, attribution_table: str, max_size: int) -> str:
    """Keep the table's header and total rows; drop hunk rows from the end until it fits."""
    lines = attribution_table.rstrip("\n").splitlines()
    head, rows = lines[:2], lines[2:]
    first_total = len(rows)
    while first_total and rows[first_total - 1].startswith(("| **Total**", "| …")):
        first_total -= 1
    totals = rows[first_total:]
    used = size("\n".join([heading, "", *head, *totals])) + 150  # room for the note
    body: list[str] = []
    for row in rows[:first_total]:
        used += size(row) + 1
        if used > max_size:
            break
        body.append(row)
    cut = first_total - len(body)
    note = (
        f"_{cut} hunk rows were cut to fit GitHub's size limit; the totals are complete._"
        if cut
        else ""
    )
    return "\n".join([heading, "", *head, *body, *totals]) + (f"\n\n{note}" if note else "")


def _note(note: Note) -> str:
    # Continuation lines are indented so that a multi-line value stays in its list item.
    value = block(note.value, limit=10**7).replace("\n", "\n  ")
    key, agent = inline(note.key, 200), inline(note.agent, 40)
    return f"- **{key}** ({agent}, v{note.version}): {value}"


def render_memory(memory: Memory, max_size: int | None = None) -> str:
    notes = "\n".join(_note(note) for note in memory.notes) or "_(no notes)_"
    summary = "Shared memory"
    if max_size is not None:
        notes = keep_head(notes, max(0, max_size - 80), "the shared memory")
    return details(summary, notes)


# ---- the agents' summaries -----------------------------------------------------------------


def _word(name: str) -> str:
    """A role name inside HTML (`<summary>`), where escapes would show: letters only, which
    can form no tag, entity, mention, reference or link."""
    return re.sub(r"[^a-z]", "", name.lower())[:20] or "agent"


def render_summaries(agents: Sequence[AgentResult], chars: int = SUMMARY_CHARS[0]) -> str:
    """What each agent said it did, collapsed, one block per agent and round."""
    said = [agent for agent in agents if agent.summary.strip()]
    if not said:
        return ""
    parts = ["## What the agents said"]
    if chars <= 0:
        parts.append("_The agents' summaries were cut to fit GitHub's size limit._")
    for agent in said if chars > 0 else ():
        label = f"{_word(agent.role)}, round {agent.round}"
        parts.append(details(label, block(agent.summary, chars)))
    return "\n\n".join(parts)


def _shrink_summaries(agents: Sequence[AgentResult], max_size: int) -> str:
    for chars in SUMMARY_CHARS[1:]:
        text = render_summaries(agents, chars)
        if size(text) <= max_size:
            break
    return text


# ---- the body ------------------------------------------------------------------------------


def pr_body(
    *,
    plan: Plan,
    issue_number: int | None,
    attribution_table: str,
    rounds: Sequence[TestRound],
    agents: Sequence[AgentResult],
    orchestrator: Usage | AgentResult,
    orchestrator_model: str = "",
    prices: PriceTable,
    spans: Sequence[Span],
    memory: Memory,
    draft_reason: str | None,
) -> str:
    """The description of the run's one pull request (see the module docstring)."""
    intro = []
    if draft_reason:
        intro.append(f"⚠️ **Draft:** {inline(draft_reason, 500)}")
    intro.append(block(plan.summary, 2000))
    if issue_number is not None:
        intro.append(f"Closes #{issue_number}")
    heading = "## Who wrote what"
    table_text = attribution_table.strip() or "_No changes._"
    sections = [
        Section("\n\n".join(intro)),
        Section(
            f"{heading}\n\n{table_text}",
            lambda n: shrink_table(heading, table_text, n),
            cut_order=3,
        ),
        Section(render_summaries(agents), lambda n: _shrink_summaries(agents, n), cut_order=1),
        Section(render_tests(rounds), lambda n: _shrink_tests(rounds, n), cut_order=2),
        Section(render_cost(agents, orchestrator, orchestrator_model, prices)),
        Section(render_gantt(spans)),
        Section(render_memory(memory), lambda n: render_memory(memory, n), cut_order=0),
        Section(PR_MARKER),
    ]
    return fit(sections) + "\n"

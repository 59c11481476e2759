"""The pull request description: summary, attribution, the agents' summaries, tests, cost,
timeline, shared memory.

Deterministic (every time comes from the run's spans) and capped under GitHub's body limit: the
shared memory is cut first, then the agents' summaries, then the test output, then attribution
rows, each with a note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.memory import Memory, Note
from bot.core.plan import Plan
from bot.core.pricing import PriceTable
from bot.core.results import AgentResult, Span, TestRound
from bot.core.usage import Usage
from bot.render import commit
from bot.render.cost import render_cost
from bot.render.markdown import (
    Section,
    block,
    code_span,
    details,
    fit,
    inline,
    keep_head,
    shrunk,
    size,
)
from bot.render.rounds import OUTPUT_CHARS, render_tests
from bot.render.timeline import render_gantt

PR_MARKER = "<!-- orchestrate:pr -->"
SUMMARY_CHARS = (3000, 1000, 300, 0)  # an agent's summary as shown, then less


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
    """What each agent said it did, and what the write policy did not commit of its work,
    collapsed, one block per agent and round."""
    said = [agent for agent in agents if agent.summary.strip() or agent.refused]
    if not said:
        return ""
    parts = ["## What the agents said"]
    if chars <= 0:
        parts.append("_The agents' summaries were cut to fit GitHub's size limit._")
    for agent in said if chars > 0 else ():
        label = f"{_word(agent.role)}, round {agent.round}"
        parts.append(details(label, _said(agent, chars)))
    return "\n\n".join(parts)


def _said(agent: AgentResult, chars: int) -> str:
    text = block(agent.summary, chars)
    if not agent.refused:
        return text
    listed = "\n".join(
        f"- {code_span(r.path, cell=False)}: {inline(r.reason, 200)}" for r in agent.refused
    )
    refused = f"**Not committed** (refused by the write policy):\n\n{listed}"
    return f"{text}\n\n{refused}" if text else refused


# ---- the body ------------------------------------------------------------------------------


def pr_body(
    *,
    plan: Plan,
    issue_number: int | None,
    attribution_table: str,
    rounds: Sequence[TestRound],
    agents: Sequence[AgentResult],
    orchestrator: Usage,
    orchestrator_model: str = "",
    prices: PriceTable,
    spans: Sequence[Span],
    memory: Memory,
    draft_reason: str | None,
    environment: str = "",
) -> str:
    """The description of the run's one pull request (see the module docstring);
    `environment` is its line from render/environment.py."""
    intro = []
    if draft_reason:
        intro.append(f"⚠️ **Draft:** {inline(draft_reason, 500)}")
    intro.append(block(plan.summary, 2000))
    if environment:
        intro.append(environment)
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
        Section(
            render_summaries(agents),
            lambda n: shrunk(lambda c: render_summaries(agents, c), SUMMARY_CHARS[1:], n),
            cut_order=1,
        ),
        Section(
            render_tests(rounds),
            lambda n: shrunk(lambda c: render_tests(rounds, c), OUTPUT_CHARS[1:], n),
            cut_order=2,
        ),
        Section(render_cost(agents, orchestrator, orchestrator_model, prices)),
        Section(render_gantt(spans)),
        Section(render_memory(memory), lambda n: render_memory(memory, n), cut_order=0),
        Section(PR_MARKER),
    ]
    return fit(sections) + "\n"


def draft_reason(
    rounds: Sequence[TestRound],
    max_rounds: int,
    budget_note: str = "",
    missing: Sequence[AgentResult] = (),
) -> str | None:
    """Why the PR is a draft, or None: an agent whose work is missing (named first, with why),
    the tests that still fail after the last round."""
    reasons = [agents_failed(missing)] if missing else []
    if rounds and not rounds[-1].passed:
        tests = f"the tests still fail after round {rounds[-1].round} of {max_rounds}."
        reasons.append(f"{tests} {budget_note}" if budget_note else tests)
    return " ".join(reasons) or None


def agents_failed(missing: Sequence[AgentResult]) -> str:
    """Which agents failed, in which round and why: their work may be missing. Plain text:
    where it is shown, it is neutralised whole (the PR body's draft line, the failure's
    fence, the state line)."""
    parts = [
        f"the {result.role[:40]} agent failed in round {result.round} "
        f"({result.stop_reason.removeprefix('error: ')[:300]})"
        for result in missing
    ]
    return "; ".join(parts) + ", so its work may be missing."


def budget_reached_note(reached: str) -> str:
    """Why no further fix round ran, for the draft reason."""
    return f"The run budget was reached ({reached}); no further rounds ran."


def pr_title(plan: Plan, issue_title: str) -> str:
    """The issue's title, else the first line of the plan's summary, as plain words: a squash
    merge makes the title a commit subject, so it is built like one (see render/commit.py)."""
    return commit.title(issue_title, plan.summary)

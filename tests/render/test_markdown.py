"""Every hostile string, through every helper that shows text on GitHub, renders inert: judged by
GitHub's own markdown renderer (cmark-gfm) and GitHub's reference and mention patterns."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.core.attribution import Attribution, Hunk, LineCount
from bot.core.memory import Memory, Note
from bot.core.plan import Contract, Interface, Plan, Role, SubTask
from bot.core.pricing import PriceTable
from bot.core.results import AgentLine, AgentResult, AgentStatus, Span
from bot.core.results import TestRound as Round
from bot.core.usage import Usage
from bot.render import commit
from bot.render.attribution import render_table
from bot.render.commit import TITLE_CHARS
from bot.render.markdown import (
    ZWSP,
    block,
    clean,
    code_span,
    details,
    fenced,
    inline,
    mermaid_label,
    table,
)
from bot.render.messages import follow_up_reply, run_failed
from bot.render.plan_comment import plan_comment
from bot.render.pr_body import pr_body, pr_title
from tests.support.gfm import plain_links, render
from tests.support.hostile import HOSTILE

BENIGN = "plain words"
PR_URL = "https://github.com/o/r/pull/9"
CASES = pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))


def hostile_plan(text: str) -> Plan:
    """A plan with `text` in every field a model fills. Built without validation: the reports
    must not rely on the plan's length limits or on its text being valid Unicode."""
    interface = Interface.model_construct(name=text, file=text, signature=text, behaviour=text)
    return Plan.model_construct(
        summary=text,
        contract=Contract.model_construct(
            files=[text, "cli.py"], interfaces=[interface], behaviours=[text]
        ),
        subtasks=[
            SubTask.model_construct(
                role=Role.IMPLEMENT, goal=text, acceptance=[text], files=[text]
            ),
            SubTask.model_construct(role=Role.TEST, goal=text, acceptance=[text], files=[]),
        ],
        test_command="pytest",
        fewer_agents_reason=text,
    )


def hostile_rounds(text: str) -> list[Round]:
    return [
        Round(
            round=1,
            command=text,
            passed=False,
            exit_code=1,
            output_tail=text,
            sent_to=text,
        )
    ]


def rendered_plan_comment(text: str) -> str:
    return plan_comment(
        hostile_plan(text),
        task_title=text,
        states={"implement": AgentLine(status=AgentStatus.DONE, turns=2, tokens=10)},
        run_state=text,
        pr_url=PR_URL,
        rounds=hostile_rounds(text),
    )


def rendered_pr_body(text: str) -> str:
    hunk = Hunk(
        path=text,
        old_path=text,
        status="modified",
        new_start=1,
        new_count=1,
        old_start=1,
        old_count=1,
        added=1,
        removed=1,
        agents=[text],
        commits=["a" * 40],
        lines_by_agent={text: LineCount(added=1, removed=1)},
    )
    attribution = Attribution(
        hunks=[hunk],
        totals_by_agent={text: LineCount(added=1, removed=1)},
        total_added=1,
        total_removed=1,
    )
    agent = AgentResult(
        role=text,
        status=AgentStatus.BUDGET,
        model=text,
        turns=1,
        usage=Usage(input_tokens=10),
        summary=text,
        stop_reason=text,
    )
    memory = Memory()
    memory.notes = [Note(agent=text, key=text, value=text, version=1, at="")]
    span = Span(label=text, section=text, start="2025-01-02T03:00:00", end="2025-01-02T03:00:09")
    return pr_body(
        plan=hostile_plan(text),
        issue_number=7,
        attribution_table=render_table(attribution),
        rounds=hostile_rounds(text),
        agents=[agent],
        orchestrator=Usage(),
        orchestrator_model=text,
        prices=PriceTable.default(),
        spans=[span],
        memory=memory,
        draft_reason=text,
    )


def mermaid(text: str) -> str:
    return f'```mermaid\nflowchart LR\n    a["{mermaid_label(text)}"]\n```'


MARKDOWN: dict[str, Callable[[str], str]] = {
    "inline": lambda text: f"before {inline(text)} after",
    "inline_in_cell": lambda text: table(["a", "b"], [[inline(text), "x"]]),
    "block": lambda text: details("notes", block(text)),
    "code_span": lambda text: f"before {code_span(text, cell=False)} after",
    "code_span_in_cell": lambda text: table(["a", "b"], [[code_span(text), "x"]]),
    "fenced": lambda text: details("output", fenced(text)),
    "mermaid_label": mermaid,
    "plan_comment": rendered_plan_comment,
    "pr_body": rendered_pr_body,
    "run_failed": run_failed,
    "follow_up_reply": lambda text: follow_up_reply(
        commits=[text], rounds=hostile_rounds(text), pr_url=PR_URL
    ),
}


@CASES
@pytest.mark.parametrize("helper", list(MARKDOWN))
def test_hostile_text_renders_inert(helper: str, text: str) -> None:
    """No link, image, raw tag, comment, layout change, mention or reference comes from the text:
    the rendering has the same structure and the same GitHub links as with plain words."""
    build = MARKDOWN[helper]
    hostile, benign = render(build(text)), render(build(BENIGN))
    assert "img" not in hostile.tags
    assert hostile.tags.count("a") == benign.tags.count("a")  # the app's own PR link only
    assert hostile.structure() == benign.structure()
    assert hostile.comments == benign.comments
    assert not hostile.links() - benign.links()


@CASES
def test_inline_and_block_show_exactly_the_text(text: str) -> None:
    """Neutralising loses nothing a reader could see: the rendered text is the cleaned input
    (balanced backtick runs are kept as code spans, so backticks are left out of the
    comparison, as are the zero-width spaces)."""

    def visible(shown: str) -> str:
        return " ".join(shown.replace(ZWSP, "").replace("`", "").split())

    for markdown in (inline(text, 10**6), block(text, 10**6)):
        assert visible(render(markdown).text) == visible(clean(text))


@CASES
def test_mermaid_label_keeps_plain_characters_only(text: str) -> None:
    """A label cannot end its quotes or brackets, or start a new line or statement."""
    assert re.fullmatch(r"[\w .,/+=!?'*…-]+", mermaid_label(text))


@CASES
def test_commit_message_and_title_link_nothing(text: str) -> None:
    """Subject, body and PR title hold no mention, reference, URL or e-mail, on capped lines."""
    message = commit.message(
        role="implement",
        round_number=1,
        text=text,
        stopped=text,
        refused=[(text, text), ("ok.py", "too large")],
    )
    title = pr_title(hostile_plan(text), text)
    assert not plain_links(message)
    assert not plain_links(title)
    lines = message.splitlines()
    assert lines[0].startswith("implement: ") and len(lines[0]) <= commit.SUBJECT_CHARS
    assert "\n" not in title and 0 < len(title) <= TITLE_CHARS
    for line in [*lines, title]:
        assert all(ch.isprintable() for ch in line)
    assert lines[-1] == "Round 1 of the orchestrated run."

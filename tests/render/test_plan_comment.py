"""The plan comment, structurally: sections, checklist, diagram, size."""

from __future__ import annotations

import re

from bot.core.plan import Interface, Role
from bot.core.results import AgentLine, AgentStatus
from bot.core.results import TestRound as Round
from bot.render.markdown import GITHUB_BODY_LIMIT, size
from tests.render.helpers import (
    PING,
    columns,
    comment,
    fence_blocks,
    make_plan,
    section_lines,
)


def test_plan_comment_sections_come_in_order_after_the_hidden_marker() -> None:
    """Marker first, then state, summary, contract, fan-out diagram and checklist."""
    body = comment(make_plan(), run_state="reconciling (round 2)")
    assert body.splitlines()[0] == "<!-- orchestrate:plan -->"
    assert "reconciling (round 2)" in body.splitlines()[1]
    order = [
        "Add a `--json` flag",
        "#### Interface contract",
        "| Name | File | Signature | Behaviour |",
        "exit code 0 on success",
        "flowchart LR",
        "#### Progress",
    ]
    positions = [body.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_checklist_has_one_line_per_agent_with_state_turns_and_tokens() -> None:
    """Three agents → three agent lines (in role order), a tests line and a PR line."""
    states = {
        "implement": AgentLine(status=AgentStatus.DONE, turns=12, tokens=12_345),
        "test": AgentLine(status=AgentStatus.BUDGET, turns=1, tokens=999),
        "docs": AgentLine(status=AgentStatus.RUNNING, turns=3, tokens=2_500_000),
    }
    lines = section_lines(comment(make_plan(), states=states), "#### Progress")
    assert lines == [
        "- [x] **implement**: done · 12 turns · 12.3k tokens",
        "- [ ] **test**: stopped at budget · 1 turn · 999 tokens",
        "- [ ] **docs**: running · 3 turns · 2.5M tokens",
        "- [ ] **tests**: not run yet",
        "- [ ] **pull request**",
    ]


def test_one_agent_plan_shows_one_line_and_the_reason() -> None:
    """A plan with only the implementer lists one agent and says why fewer agents run."""
    plan = make_plan((Role.IMPLEMENT,), reason="a one-line fix; no docs or tests needed")
    body = comment(plan)
    agent_lines = [line for line in section_lines(body, "#### Progress") if "tests**" not in line]
    assert agent_lines == ["- [ ] **implement**: queued", "- [ ] **pull request**"]
    assert "a one-line fix; no docs or tests needed" in body
    flowchart = fence_blocks(body)[0][1]
    assert not any("test[" in line or "docs[" in line for line in flowchart)
    assert any(line.strip().startswith("plan --> implement[") for line in flowchart)


def test_all_three_agents_show_no_fewer_agents_note() -> None:
    """The reason line only appears when fewer than three agents run."""
    assert "Fewer than" not in comment(make_plan(reason="ignored"))


def test_tests_and_pull_request_lines_follow_the_run() -> None:
    """Each test round is listed with where the failure went; the PR line links the PR."""
    rounds = [
        Round(round=1, command="pytest", passed=False, exit_code=1, sent_to="implement"),
        Round(round=2, command="pytest", passed=True, exit_code=0),
    ]
    url = "https://github.com/o/r/pull/9"
    lines = section_lines(comment(make_plan(), rounds=rounds, pr_url=url), "#### Progress")
    assert lines[-2] == "- [x] **tests**: round 1 failed (exit 1) → implement; round 2 passed"
    assert lines[-1] == f"- [x] **pull request**: {url}"


def test_waiting_for_approval_says_how_to_approve() -> None:
    """The state line is followed by the approve/cancel commands while the run waits."""
    body = comment(make_plan(), run_state="waiting for approval")
    assert "`/orchestrate approve`" in body.splitlines()[2]
    assert "`/orchestrate approve`" not in comment(make_plan(), run_state="running")


def test_mermaid_labels_are_quoted_and_sanitised() -> None:
    """Quotes, brackets, `<>`, colons and backticks in a goal cannot end or re-parse a label."""
    plan = make_plan(goal='Fix "parse" [x] (y) {z} <b> a:b; c#1 `d` %% e | f')
    flowchart = fence_blocks(comment(plan))[0][1]
    labels = [m for line in flowchart for m in re.findall(r'\["([^"]*)"\]', line)]
    goals = [label for label in labels if "Fix" in label]
    assert len(goals) == 3
    assert labels == ["plan", *goals, "reconcile + tests", "pull request"]
    for label in goals:
        assert not set(label) & set('"[](){}<>:;#`%|')
        assert "Fix parse x y z b a b c 1 d e f" in label


def test_pipe_in_a_path_or_cell_does_not_add_a_table_column() -> None:
    """`|` and newlines in contract cells stay inside their cell."""
    plan = make_plan(behaviour="first | second\n| third |")
    plan.contract.interfaces[0].file = "weird|name.py"
    plan.contract.files = ["weird|name.py"]
    body = comment(plan)
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    assert len(rows) == 2  # header + one interface row
    assert {columns(row) for row in rows} == {4}
    assert "`weird\\|name.py`" in rows[1]
    # Outside a table the escape would show as a backslash, so there is none.
    assert "**Files:** `weird|name.py`" in body


def test_model_text_cannot_mention_reference_or_hide_text() -> None:
    """`@user`, `#12` and HTML comments in model text are neutralised in the plan comment."""
    text = "ping @octocat and @org/team, fixes #12 <!-- hidden --> <img src=x>"
    plan = make_plan(summary=text, goal=text, behaviour=text, reason=text, roles=(Role.TEST,))
    body = comment(plan, task_title=text, run_state=f"failed: {text}")
    assert not PING.search(body)
    assert "#12" not in body
    assert body.count("<!--") == 1  # the app's own marker only
    assert "<img" not in body


def test_huge_contract_is_cut_to_fit_a_comment() -> None:
    """A contract at its size limits still yields a comment under GitHub's limit."""
    plan = make_plan()
    plan.contract.interfaces = [
        Interface(name=f"f{i}", file="x" * 300, signature="s" * 500, behaviour="b" * 2000)
        for i in range(30)
    ]
    plan.contract.behaviours = ["y" * 5000] * 30
    plan.contract.files = ["z" * 3000] * 50
    body = comment(plan)
    assert size(body) < GITHUB_BODY_LIMIT
    assert "#### Progress" in body

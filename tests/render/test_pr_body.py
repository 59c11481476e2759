"""The pull request body, structurally: sections, draft, attribution, summaries, memory, size."""

from __future__ import annotations

import re

from bot.core.commit_policy import Refusal
from bot.core.memory import Memory, Note
from bot.core.results import AgentResult, AgentStatus
from bot.core.results import TestRound as Round
from bot.render import states
from bot.render.attribution import render_table
from bot.render.markdown import GITHUB_BODY_LIMIT, ZWSP, size
from bot.render.pr_body import agents_failed, draft_reason, pr_title, render_summaries
from tests.render.helpers import (
    PING,
    attribution,
    body,
    columns,
    make_plan,
    result,
)
from tests.support.gfm import render


def test_pr_body_sections_come_in_order() -> None:
    """Summary, Closes, attribution, tests, cost, timeline, shared memory."""
    text = body()
    order = [
        "Add a `--json` flag",
        "Closes #7",
        "## Who wrote what",
        "## Tests",
        "## Cost",
        "## Timeline",
        "<details><summary>Shared memory</summary>",
        "main() takes argv",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert text.splitlines()[0].startswith("Add a `--json` flag")
    assert "Draft" not in text


def test_draft_says_so_on_the_first_line() -> None:
    """A PR whose tests still fail starts with the warning and the round count."""
    rounds = [
        Round(round=1, command="pytest", passed=False, exit_code=1, sent_to="implement"),
        Round(round=2, command="pytest", passed=False, exit_code=1),
    ]
    reason = draft_reason(rounds, 2, "The run budget was reached (tokens).")
    first = body(rounds=rounds, draft_reason=reason).splitlines()[0]
    assert first.startswith("⚠️ **Draft:**")
    assert "the tests still fail after round 2 of 2." in first
    assert "The run budget was reached (tokens)." in first


def test_draft_reason_only_when_the_last_round_fails() -> None:
    """Passing last round or no test rounds: not a draft."""
    failed = Round(round=1, command="t", passed=False, exit_code=1)
    passed = Round(round=2, command="t", passed=True, exit_code=0)
    assert draft_reason([failed, passed], 2) is None
    assert draft_reason([], 2) is None
    assert draft_reason([failed], 3) == "the tests still fail after round 1 of 3."


def test_a_failed_agent_is_named_first_with_why() -> None:
    """An agent whose work is missing makes a draft whose first line names it, its round and
    why (neutralised), before failing tests; the state line says so too."""
    failed = AgentResult(
        role="docs", round=1, status=AgentStatus.FAILED, model="m",
        stop_reason="error: Messages API answered 529 (overloaded) @team",
    )  # fmt: skip
    assert (
        draft_reason([], 2, missing=[failed])
        == agents_failed([failed])
        == (
            "the docs agent failed in round 1 (Messages API answered 529 (overloaded) "
            "@team), so its work may be missing."
        )
    )
    rounds = [Round(round=2, command="t", passed=False, exit_code=1)]
    reason = draft_reason(rounds, 2, missing=[failed])
    first = body(rounds=rounds, draft_reason=reason).splitlines()[0]
    assert first.startswith("⚠️ **Draft:** the docs agent failed in round 1 (")
    assert f"(overloaded) @{ZWSP}team), so" in first  # neutralised where it is shown
    assert first.endswith("the tests still fail after round 2 of 2.")
    assert states.done(draft=True, missing=["docs", "docs"]) == (
        "done (draft: the docs agent's work is missing)"
    )


def test_no_closes_line_without_an_issue() -> None:
    """A run started from a pull request closes nothing."""
    assert "Closes" not in body(issue_number=None)


def test_pipe_in_an_attributed_path_does_not_add_a_column() -> None:
    """The attribution table rendered by bot.attribution keeps its five columns."""
    text = body(attribution_table=render_table(attribution(["a|b.py", "ok.py"])))
    table = [line for line in text.splitlines() if line.startswith("| ") and "+1/-1" in line]
    assert len(table) == 2 and "`a\\|b.py`" in table[0]
    assert {columns(row) for row in table} == {5}


def test_model_text_in_the_pr_body_pings_nobody_and_opens_no_fence() -> None:
    """Mentions, references, HTML and fences in the summary and the memory are neutralised."""
    memory = Memory()
    memory.notes = [
        Note(
            agent="docs",
            key="k",
            value="thanks @octocat, see #5\n```python\n</details>",
            version=1,
            at="",
        )
    ]
    text = body(plan=make_plan(summary="@octocat fixes #5 <!-- x -->"), memory=memory)
    assert not PING.search(text)
    assert "#5" not in text
    assert text.count("<!--") == 1 and text.rstrip().endswith("<!-- orchestrate:pr -->")
    assert text.count("<details>") == text.count("</details>")
    assert "```python" not in text


def test_body_stays_under_githubs_limit_cutting_memory_first() -> None:
    """A huge memory is cut (with a note) while a normal attribution table stays whole."""
    memory = Memory()
    memory.notes = [
        Note(agent="implement", key=f"k{i}", value="v" * 3990, version=i, at="") for i in range(25)
    ]
    table = render_table(attribution([f"f{i}.py" for i in range(40)]))
    text = body(memory=memory, attribution_table=table)
    assert size(text) < GITHUB_BODY_LIMIT
    assert "of the shared memory cut to fit GitHub's size limit" in text
    assert all(f"`f{i}.py`" in text for i in range(40))
    assert text.count("<details>") == text.count("</details>")


def test_everything_huge_still_fits_and_says_what_was_cut() -> None:
    """Huge memory, test output and attribution: all cut in turn, totals rows kept."""
    memory = Memory()
    memory.notes = [
        Note(agent="a", key=f"k{i}", value="m" * 3990, version=i, at="") for i in range(25)
    ]
    rounds = [
        Round(round=n, command="pytest", passed=False, exit_code=1, output_tail="E boom\n" * 20_000)
        for n in (1, 2, 3)
    ]
    table = render_table(attribution([f"src/module_{i}/file.py" for i in range(3000)]))
    text = body(memory=memory, rounds=rounds, attribution_table=table, draft_reason="tests fail")
    assert size(text) < GITHUB_BODY_LIMIT
    assert "hunk rows were cut to fit GitHub's size limit; the totals are complete" in text
    assert "| **Total** | | **all** | | +3000/-3000 |" in text
    assert text.splitlines()[0].startswith("⚠️ **Draft:**")
    assert "## Cost" in text and "## Timeline" in text
    assert text.count("<details>") == text.count("</details>")


def summarised(role: str, summary: str, round_number: int = 1) -> AgentResult:
    agent = result(role)
    agent.summary, agent.round = summary, round_number
    return agent


def test_agents_summaries_are_collapsed_one_block_per_agent_and_round() -> None:
    """Each agent run that said something gets a collapsed block, in order; silent ones none."""
    agents = [
        summarised("implement", "Added the flag.\n\nTouched `cli.py`."),
        summarised("test", ""),
        summarised("implement", "Fixed the failing test.", 2),
    ]
    text = body(agents=agents)
    assert text.index("## Who wrote what") < text.index("## What the agents said")
    assert text.index("## What the agents said") < text.index("## Tests")
    blocks = re.findall(r"<details><summary>([^<]*)</summary>\n\n(.*?)\n\n</details>", text, re.S)
    said = [(label, content) for label, content in blocks if "round" in label]
    assert said == [
        ("implement, round 1", "Added the flag.\n\nTouched `cli.py`."),
        ("implement, round 2", "Fixed the failing test."),
    ]
    assert "## What the agents said" not in body(agents=[summarised("docs", " \n ")])


def test_files_the_write_policy_refused_are_named_in_the_agents_block() -> None:
    """What the write policy did not commit is listed in its agent's block (even when the agent
    said nothing), each path as code, so a hostile name links or mentions nothing."""
    agent = summarised("implement", "")
    agent.refused = [
        Refusal(path=".github/workflows/x.yml", reason="writing here is not allowed"),
        Refusal(path="@octocat [x](http://evil.example)", reason="larger than 10 bytes"),
    ]
    text = body(agents=[agent])
    assert "**Not committed** (refused by the write policy):" in text
    assert "- `.github/workflows/x.yml`: writing here is not allowed" in text
    page = render(render_summaries([agent]))
    assert "a" not in page.tags and not page.links()


def test_agents_summaries_are_neutralised_and_capped() -> None:
    """A summary cannot ping, reference, link, embed, or close its block; it is capped."""
    hostile = (
        "@octocat fixes #1 ![](http://evil.example/p) </details> https://x.example/o/r/issues/2"
    )
    agent = summarised("<b>docs</b>", hostile + " " + "x" * 10_000)
    text = body(agents=[agent])
    page = render(text)
    assert "img" not in page.tags and "a" not in page.tags
    assert not PING.search(text) and "#1" not in text
    assert "<details><summary>bdocsb, round 1</summary>" in text
    assert text.count("<details>") == text.count("</details>")
    assert "x" * 2800 + "…" in text and "x" * 3000 not in text


def test_agents_summaries_are_cut_after_the_memory_and_before_the_test_output() -> None:
    """When the body is too big, the summaries shrink (to a note at worst) and it still fits."""
    memory = Memory()
    memory.notes = [
        Note(agent="a", key=f"k{i}", value="m" * 3990, version=i, at="") for i in range(25)
    ]
    agents = [summarised("implement", "s" * 3000, n) for n in range(1, 21)]
    rounds = [
        Round(round=1, command="pytest", passed=False, exit_code=1, output_tail="E boom\n" * 800)
    ]
    text = body(memory=memory, agents=agents, rounds=rounds)
    assert size(text) < GITHUB_BODY_LIMIT
    assert "of the shared memory cut to fit GitHub's size limit" in text
    assert "## What the agents said" in text and "s" * 3000 not in text
    assert "E boom\n" * 800 in text  # the test output was not cut
    assert text.count("<details>") == text.count("</details>")


def test_memory_note_lines_stay_in_their_list_item() -> None:
    """A multi-line note value is one list item; its lines cannot start a list or a heading."""
    memory = Memory()
    memory.notes = [Note(agent="docs", key="k", value="one\n- two\n\n# three", version=1, at="")]
    page = render(body(memory=memory))
    assert page.tags.count("li") == 1  # the note's own item, nothing nested
    assert "h1" not in page.tags
    assert "one - two # three" in " ".join(page.text.replace(ZWSP, "").split())


def test_pr_title_prefers_the_issue_title_and_is_one_capped_line() -> None:
    """Issue title first, else the summary's first line; never longer than 120 characters."""
    plan = make_plan(summary="\n  First line of summary  \nsecond")
    assert pr_title(plan, "Fix the\nthing") == "Fix the"
    assert pr_title(plan, "  ") == "First line of summary"
    assert len(pr_title(plan, "x" * 500)) == 120


def test_pr_title_is_plain_words() -> None:
    """The issue's title loses every mention, reference and URL (a squash merge makes it a
    commit subject, where `Fixes #1` would close an issue)."""
    title = "Fixes #1 closes other-org/other-repo#1 @someone see https://x.example/a"
    assert pr_title(make_plan(), title) == (
        "Fixes 1 closes other-org other-repo 1 someone see https: x.example a"
    )

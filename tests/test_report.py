"""What a run posts: the plan comment, the PR body and the short messages, structurally."""

from __future__ import annotations

import re

import pytest

from bot.core.attribution import Attribution, Hunk, LineCount
from bot.core.commit_policy import Refusal
from bot.core.memory import Memory, Note
from bot.core.plan import Contract, Interface, Plan, Role, SubTask
from bot.core.pricing import PriceTable, run_cost
from bot.core.results import AgentLine, AgentResult, AgentStatus, Span
from bot.core.results import TestRound as Round
from bot.core.usage import Usage
from bot.render import messages as render_module
from bot.render.attribution import render_table
from bot.render.markdown import GITHUB_BODY_LIMIT, ZWSP, size
from bot.render.messages import approval_expired, follow_up_reply, run_failed
from bot.render.plan_comment import plan_comment
from bot.render.pr_body import draft_reason, pr_body, pr_title, render_summaries
from bot.render.states import approval_expired_state, cancelled_state
from tests.support.gfm import render

SONNET = "claude-sonnet-4-6"
# Mentions that would ping someone: `@` followed by a login character, with no zero-width space.
PING = re.compile(r"@(?!\u200b)[A-Za-z0-9]")


def make_plan(roles: tuple[Role, ...] = tuple(Role), reason: str = "", **extra: str) -> Plan:
    return Plan(
        summary=extra.get("summary", "Add a `--json` flag to the report command."),
        contract=Contract(
            files=["cli.py", "docs/usage.md"],
            interfaces=[
                Interface(
                    name="main",
                    file="cli.py",
                    signature="def main(argv: list[str] | None = None) -> int",
                    behaviour=extra.get("behaviour", "prints JSON when --json is given"),
                )
            ],
            behaviours=["exit code 0 on success"],
        ),
        subtasks=[
            SubTask(
                role=role, goal=extra.get("goal", f"do the {role.value} part"), acceptance=["ok"]
            )
            for role in roles
        ],
        test_command="pytest -q",
        fewer_agents_reason=reason,
    )


def columns(row: str) -> int:
    """Cells of a GFM table row: split on pipes that are not escaped."""
    return len(re.split(r"(?<!\\)\|", row.strip())) - 2


def section_lines(text: str, heading: str) -> list[str]:
    """The lines after `heading` up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def fence_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(opening fence line, content lines) of every fenced block, parsed like CommonMark: a
    block ends at a line of at least as many backticks as it opened with and nothing else."""
    blocks: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(`{3,})", lines[i])
        if not opening:
            i += 1
            continue
        fence = opening.group(1)
        end = next(
            j for j in range(i + 1, len(lines)) if re.fullmatch(rf"`{{{len(fence)},}}\s*", lines[j])
        )
        blocks.append((lines[i], lines[i + 1 : end]))
        i = end + 1
    return blocks


# ---- plan comment --------------------------------------------------------------------------


def comment(plan: Plan, **kwargs: object) -> str:
    args: dict[str, object] = {"task_title": "Add --json", "states": {}, "run_state": "running"}
    args.update(kwargs)
    return plan_comment(plan, **args)  # type: ignore[arg-type]


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


# ---- pull request body ---------------------------------------------------------------------


def hunk(path: str, agent: str, line: int = 1) -> Hunk:
    return Hunk(
        path=path,
        old_path=path,
        status="modified",
        new_start=line,
        new_count=1,
        old_start=line,
        old_count=1,
        added=1,
        removed=1,
        agents=[agent],
        commits=["a" * 40],
        lines_by_agent={agent: LineCount(added=1, removed=1)},
    )


def attribution(paths: list[str]) -> Attribution:
    return Attribution(
        hunks=[hunk(path, "implement", i + 1) for i, path in enumerate(paths)],
        totals_by_agent={"implement": LineCount(added=len(paths), removed=len(paths))},
        total_added=len(paths),
        total_removed=len(paths),
    )


def result(role: str, model: str = SONNET, **usage: int) -> AgentResult:
    return AgentResult(
        role=role, status=AgentStatus.DONE, model=model, turns=4, usage=Usage(**usage)
    )


def body(**overrides: object) -> str:
    memory = Memory()
    memory.notes = [Note(agent="implement", key="api", value="main() takes argv", version=1, at="")]
    args: dict[str, object] = {
        "plan": make_plan(),
        "issue_number": 7,
        "attribution_table": render_table(attribution(["cli.py"])),
        "rounds": [Round(round=1, command="pytest -q", passed=True, exit_code=0)],
        "agents": [result("implement", input_tokens=1000)],
        "orchestrator": Usage(input_tokens=100),
        "orchestrator_model": SONNET,
        "prices": PriceTable.default(),
        "spans": [
            Span(
                label="plan",
                section="plan",
                start="2025-01-02T03:04:05+00:00",
                end="2025-01-02T03:04:09+00:00",
            )
        ],
        "memory": memory,
        "draft_reason": None,
    }
    args.update(overrides)
    return pr_body(**args)  # type: ignore[arg-type]


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


def test_no_closes_line_without_an_issue() -> None:
    """A run started from a pull request closes nothing."""
    assert "Closes" not in body(issue_number=None)


def test_pipe_in_an_attributed_path_does_not_add_a_column() -> None:
    """The attribution table rendered by bot.attribution keeps its five columns."""
    text = body(attribution_table=render_table(attribution(["a|b.py", "ok.py"])))
    table = [line for line in text.splitlines() if line.startswith("| ") and "+1/-1" in line]
    assert len(table) == 2 and "`a\\|b.py`" in table[0]
    assert {columns(row) for row in table} == {5}


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


def test_cost_table_rows_totals_and_footnote() -> None:
    """Per-agent rows, orchestrator, total in dollars against hand-computed numbers."""
    agents = [
        result("implement", input_tokens=100_000, output_tokens=10_000),  # 0.30 + 0.15
        result("test", model="claude-haiku-4-5-20251001", output_tokens=100_000),  # 0.50
        result("implement", input_tokens=100_000, cache_read_tokens=1_000_000),  # 0.30 + 0.30
    ]
    agents[2].round = 2
    text = body(
        agents=agents,
        orchestrator=Usage(output_tokens=20_000),
        orchestrator_model="claude-opus-4-6",
    )
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert rows["| implement (2 runs)"].endswith("| 8 | 200,000 | 10,000 | 1,000,000 | 0 | $1.05 |")
    assert rows["| test"].endswith("| 0 | 100,000 | 0 | 0 | $0.50 |")
    assert rows["| orchestrator"].endswith("| 0 | 20,000 | 0 | 0 | $0.50 |")
    assert rows["| **Total**"].endswith(
        "| **200,000** | **130,000** | **1,000,000** | **0** | **$2.05** |"
    )
    assert "`bot/core/pricing.py`" in text and "`ORCHESTRATE_PRICES`" in text
    assert run_cost(agents, Usage(output_tokens=20_000), "claude-opus-4-6") == pytest.approx(2.05)


def test_unknown_model_costs_na_and_so_does_the_total() -> None:
    """A model without a price shows n/a in its row and the total, never a guessed number."""
    agents = [
        result("implement", input_tokens=1000),
        result("docs", model="gpt-x", output_tokens=5),
    ]
    text = body(agents=agents)
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert rows["| docs"].endswith("| n/a |")
    assert rows["| **Total**"].endswith("| **n/a** |")
    assert run_cost(agents, Usage(), SONNET) is None
    unused = [result("implement", input_tokens=1000), result("docs", model="gpt-x")]
    assert run_cost(unused, Usage(), SONNET) == pytest.approx(0.003)


def test_agents_that_did_not_finish_are_listed_with_their_reason() -> None:
    """A stopped or failed agent is named under the cost table with its stop reason."""
    stopped = result("test")
    stopped.status, stopped.stop_reason = AgentStatus.BUDGET, "budget: turns @octocat"
    text = body(agents=[result("implement"), stopped])
    line = next(line for line in text.splitlines() if line.startswith("- **test**"))
    assert line.startswith("- **test** (round 1): stopped at budget (budget: turns @")
    assert not PING.search(line)


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


# ---- short messages ------------------------------------------------------------------------


def test_run_failed_quotes_the_reason_in_a_fence_it_cannot_close() -> None:
    """A reason with backticks and markup stays inside its fence."""
    reason = "boom ```\n<!-- x --> @octocat"
    blocks = fence_blocks(run_failed(reason))
    assert blocks == [("````text", reason.splitlines())]


def test_cancel_and_approval_messages() -> None:
    """The cancelling login is cleaned; the approval timeout names its hours."""
    assert cancelled_state("alice") == "cancelled by @alice"
    assert cancelled_state("bad <b>name") == cancelled_state("badbname")
    assert "24 hours" in approval_expired(24.0)
    assert approval_expired_state(1.5) == "stopped: not approved within 1.5 hours"


def test_cancelled_state_in_the_plan_comment_pings_nobody() -> None:
    """The run state is shown without turning the login into a mention."""
    text = comment(make_plan(), run_state=cancelled_state("alice"))
    assert f"cancelled by @{ZWSP}alice" in text


def test_pr_title_prefers_the_issue_title_and_is_one_capped_line() -> None:
    """Issue title first, else the summary's first line; never longer than 120 characters."""
    plan = make_plan(summary="\n  First line of summary  \nsecond")
    assert pr_title(plan, "Fix the\nthing") == "Fix the"
    assert pr_title(plan, "  ") == "First line of summary"
    assert len(pr_title(plan, "x" * 500)) == 120


def test_follow_up_reply_names_commits_and_tests() -> None:
    """The review-thread answer lists short shas and the last test verdict."""
    rounds = [Round(round=1, command="t", passed=True, exit_code=0)]
    text = follow_up_reply(commits=["a" * 40, "b" * 40], rounds=rounds)
    assert text == "Pushed 2 commits: aaaaaaa, bbbbbbb. The tests pass (round 1)."
    assert follow_up_reply(commits=[], rounds=[]).startswith("Done: no change")


def test_pr_title_is_plain_words() -> None:
    """The issue's title loses every mention, reference and URL (a squash merge makes it a
    commit subject, where `Fixes #1` would close an issue)."""
    title = "Fixes #1 closes other-org/other-repo#1 @someone see https://x.example/a"
    assert pr_title(make_plan(), title) == (
        "Fixes 1 closes other-org other-repo 1 someone see https: x.example a"
    )


def test_links_to_the_apps_own_pull_request_only() -> None:
    """The PR's URL from GitHub stays a link; anything else in its place is inert text."""
    url = "https://github.com/o/r/pull/9"
    assert follow_up_reply(commits=[], rounds=[], pr_url=url).endswith(f" {url}")
    for odd in ("https://evil.example/o/r/pull/9?x=1", "[x](https://evil.example)", "@octocat"):
        page = render(comment(make_plan(), pr_url=odd))
        assert page.tags.count("a") == 0 and not PING.search(comment(make_plan(), pr_url=odd))


def test_follow_up_reply_shows_only_commit_shas() -> None:
    """Anything but a hex SHA in the commit list is shown as `?`."""
    text = follow_up_reply(commits=["@everyone-and-more", "c" * 40], rounds=[])
    assert text == "Pushed 2 commits: ?, ccccccc."


def test_command_replies_mention_only_the_commenter_and_link_only_the_run() -> None:
    """The commenter is reduced to login characters; the run's link stays a link only when it
    is the app's own comment URL, anything else is inert text."""
    link = "https://github.com/o/r/issues/1#issuecomment-5"
    text = render_module.run_already_going("maintainer", link)
    assert text.startswith(f"@maintainer a run is already going on this issue: {link}. ")
    odd = render_module.run_already_going("a<b>@c", "[x](https://evil.example) @octocat")
    page = render(odd)
    assert odd.startswith("@abc ") and "a" not in page.tags and not PING.search(odd[1:])
    reply = render_module.no_run_to_signal("me", "cancel @octocat")
    assert reply.startswith("@me ") and not PING.search(reply[1:])

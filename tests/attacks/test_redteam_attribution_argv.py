"""Red team: attribution passed one `-L start,end` argument per hunk to a single `git blame`. A
change with ~100k hunks in one file (every other line of a 200k-line file in the repository;
350 KB, well under the size caps) made the command line exceed ARG_MAX: `git blame` could not
start, the `attribute` activity failed on every retry, the run failed and no pull request was
opened; every agent's work was lost to the reader.

Now: blame gets at most 200 ranges per command, attribution itemises hunks only within a
budget (past it, one whole-file row whose counts still come from the diff), follows lines
through patches by bisection, and a failed or slow attribution is a note in the pull request,
never a failed run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.activities.repo import attribute_range
from bot.core.attribution import MAX_DETAILED_HUNKS, trace_removals
from bot.core.diff import FileDiff, RawHunk
from bot.git.history import diff_numstat
from bot.git.parse import parse_numstat
from bot.sandbox.bwrap import sandbox_available
from tests.attacks.hostile_git import plain_git
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.project import PROJECT_FILES, plan_turn
from tests.support.runstack import run_stack
from tests.support.stack import eventually_async

LINES = 200_000
DATA = "a\n" * LINES  # repository content: a plain data file
EVERY_OTHER_LINE = "sed -i '1~2s/a/b/' data.txt"
TRAILER = "Orchestrate-Agent"


def repo_with(tmp_path: Path, base: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    plain_git(repo, "init", "-q")
    for name, text in base.items():
        (repo / name).write_text(text)
    plain_git(repo, "add", "-A")
    plain_git(repo, "commit", "-qm", "base")
    return repo


def commit(repo: Path, files: dict[str, str], role: str) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    plain_git(repo, "add", "-A")
    plain_git(repo, "commit", "-qm", f"change\n\n{TRAILER}: {role}")


async def totals_match_numstat(repo: Path, base: str) -> tuple[int, int]:
    numstat = parse_numstat(await diff_numstat(repo, base, "HEAD"))
    return sum(a or 0 for a, _, _ in numstat), sum(r or 0 for _, r, _ in numstat)


async def test_a_change_with_many_hunks_is_attributed(tmp_path: Path) -> None:
    """100k one-line hunks in one file: attribution answers with one whole-file row for it
    (to its agent) and totals equal to the diff's, instead of failing on the command line."""
    repo = repo_with(tmp_path, {"data.txt": DATA, "small.txt": "x\n"})
    commit(repo, {"data.txt": "b\na\n" * (LINES // 2), "small.txt": "y\n"}, "implement")

    started = time.monotonic()
    attribution = await attribute_range(repo, "HEAD~1", "HEAD")

    assert time.monotonic() - started < 30
    assert attribution.total_added == LINES // 2 + 1
    assert (attribution.total_added, attribution.total_removed) == await totals_match_numstat(
        repo, "HEAD~1"
    )
    rows = {hunk.path: hunk for hunk in attribution.hunks}
    assert rows["data.txt"].kind == "large" and rows["data.txt"].agents == ["implement"]
    assert rows["small.txt"].kind == "lines" and rows["small.txt"].agents == ["implement"]


async def test_many_files_share_one_budget_and_keep_the_totals(tmp_path: Path) -> None:
    """Hundreds of files with many hunks each: itemised until the budget is spent, whole-file
    rows after that, every line still counted."""
    base = {f"f{n:03}.txt": "a\n" * 400 for n in range(60)}
    repo = repo_with(tmp_path, base)
    commit(repo, {name: "b\na\n" * 200 for name in base}, "test")

    attribution = await attribute_range(repo, "HEAD~1", "HEAD")

    itemised = [h for h in attribution.hunks if h.kind == "lines"]
    assert 0 < len(itemised) <= MAX_DETAILED_HUNKS
    assert {h.kind for h in attribution.hunks} == {"lines", "large"}
    assert (attribution.total_added, attribution.total_removed) == await totals_match_numstat(
        repo, "HEAD~1"
    )
    assert all(h.agents == ["test"] for h in attribution.hunks)


async def test_more_ranges_than_one_blame_takes_are_all_blamed(tmp_path: Path) -> None:
    """1,500 hunks in one file (within the budget): blamed over several commands, every line
    attributed to its agent, none "unknown"."""
    repo = repo_with(tmp_path, {"data.txt": "a\n" * 3000})
    commit(repo, {"data.txt": "b\na\n" * 1500}, "docs")

    attribution = await attribute_range(repo, "HEAD~1", "HEAD")

    assert len(attribution.hunks) == 1500
    assert set(attribution.totals_by_agent) == {"docs"}
    assert attribution.totals_by_agent["docs"].added == 1500


def test_tracing_lines_through_a_patch_of_100k_hunks_is_fast() -> None:
    """An intermediate commit of 100k hunks, then one removing a 20,000-line block: following
    each removed line through the big patch is a bisection, not a scan (seconds, not hours)."""
    every_other = [RawHunk(line, 1, line, 1) for line in range(1, LINES, 2)]
    block = [RawHunk(1, 20_000, 0, 0)]
    history = [
        ("sha-1", [FileDiff("data.txt", "data.txt", hunks=every_other)]),
        ("sha-2", [FileDiff("data.txt", "data.txt", hunks=block)]),
    ]
    wanted = [("data.txt", line) for line in range(1, 20_001)]

    started = time.monotonic()
    removed = trace_removals(history, wanted)

    assert time.monotonic() - started < 2
    assert sum(1 for sha in removed.values() if sha == "sha-1") == 10_000  # the odd lines
    assert sum(1 for sha in removed.values() if sha == "sha-2") == 10_000


@pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)
async def test_an_agent_changing_every_other_line_still_gets_its_pull_request(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The injected agent rewrites every other line of data.txt: the run still opens its pull
    request (within a minute), whose table gives the file one row with its full counts."""
    files = {**PROJECT_FILES, "data.txt": DATA, ".github/orchestrate.yml": "max_rounds: 1\n"}
    scripts = {
        "submit_plan": [plan_turn(("implement",), "small")],
        "implement": [
            Turn(tool_calls=[ToolCall("run", {"command": EVERY_OTHER_LINE})]),
            Turn(text="Updated the data."),
        ],
    }
    with ScriptedModel(scripts) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
        ) as stack:
            await stack.command("/orchestrate refresh the data")
            try:

                async def opened() -> bool:
                    return bool(stack.pulls())

                await eventually_async(opened, 60)
            except AssertionError:
                pytest.fail("no pull request within 60 s: attribution keeps failing")
            [pull] = stack.pulls()
            changed = plain_git(stack.bare, "show", f"{pull.head_ref}:data.txt")

    assert changed.startswith("b\na\nb\n")
    body = pull.body or ""
    assert "| `data.txt` | (too many changes to itemise) | implement |" in body
    assert f"+{LINES // 2}/-{LINES // 2}" in body

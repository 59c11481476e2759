"""Attribution: base lines followed through patches, and the hunk to agent mapping."""

from __future__ import annotations

import pytest

from bot.core.attribution import (
    LineCount,
    attribute,
    follow_line,
    trace_removals,
)
from bot.core.diff import FileDiff, RawHunk
from bot.git.parse import (
    parse_blame_porcelain,
    parse_commit_patches,
    parse_diff,
)
from bot.render.attribution import render_table
from tests.git.helpers import SHA_A, SHA_B, SHA_C
from tests.git.test_parse import GITLINK_DIFF


def test_attribute_gives_gitlinks_whole_file_rows_and_keeps_the_totals() -> None:
    """A gitlink needs no blame (there is none to give): one "submodule" row whose counts go to
    the agent of the last commit touching it, so totals still equal the diff's."""
    history = (
        f"\x1e{SHA_A}\n{GITLINK_DIFF}\x1e{SHA_B}\n"
        + GITLINK_DIFF.split("diff --git a/vendor/gone")[0]
    )
    result = attribute(
        parse_diff(GITLINK_DIFF),
        {"text.txt": {}},
        parse_commit_patches(history),
        {SHA_A: "implement", SHA_B: "docs"},
    )
    rows = {h.path: h for h in result.hunks}
    assert [rows[p].kind for p in ("vendor/new", "vendor/moved", "vendor/gone")] == [
        "submodule"
    ] * 3
    assert (rows["vendor/new"].added, rows["vendor/new"].agents) == (1, ["implement", "docs"])
    assert rows["vendor/new"].lines_by_agent == {"docs": LineCount(added=1)}
    assert rows["vendor/gone"].lines_by_agent == {"implement": LineCount(removed=1)}
    assert (result.total_added, result.total_removed) == (3, 3)
    assert "| `vendor/new` | (submodule) | implement, docs |" in render_table(result)


@pytest.mark.parametrize(
    ("line", "hunks", "expected"),
    [
        (5, [RawHunk(2, 0, 3, 2)], 7),  # two lines inserted after line 2 push line 5 down
        (2, [RawHunk(2, 0, 3, 2)], 2),  # the line the insertion follows stays put
        (3, [RawHunk(3, 2, 3, 1)], None),  # replaced
        (6, [RawHunk(3, 2, 3, 1), RawHunk(8, 0, 8, 4)], 5),  # after a shrink, before an insert
        (9, [RawHunk(3, 2, 3, 1), RawHunk(8, 0, 8, 4)], 12),
        (1, [RawHunk(1, 1, 0, 0)], None),
    ],
)
def test_follow_line_shifts_or_drops(line: int, hunks: list[RawHunk], expected: int | None) -> None:
    """A -U0 patch moves a surviving line by the net size of the hunks before it."""
    assert follow_line(line, hunks) == expected


def test_trace_removals_follows_renames_to_the_removing_commit() -> None:
    """Lines are tracked across a shift and a rename; each maps to the commit deleting it."""
    history = [
        (SHA_A, [FileDiff("f.py", "f.py", hunks=[RawHunk(1, 0, 2, 2)])]),  # insert 2 at top
        (SHA_B, [FileDiff("f.py", "g.py", hunks=[RawHunk(5, 1, 5, 0)])]),  # rename; drop old 3
        (SHA_C, [FileDiff("g.py", None, hunks=[RawHunk(1, 6, 0, 0)])]),  # delete the file
    ]
    removed = trace_removals(history, [("f.py", 3), ("f.py", 4), ("other.py", 1)])
    assert removed == {("f.py", 3): SHA_B, ("f.py", 4): SHA_C}


def test_attribute_splits_a_mixed_hunk_and_counts_unknown_lines() -> None:
    """One hunk with lines from two agents lists both; a boundary commit's line is unknown."""
    diff = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -2 +2,3 @@\n-y\n+Y\n+z\n+w\n"
    blame = f"{SHA_A} 2 2 1\n\tY\n{SHA_B} 3 3 1\n\tz\n{SHA_C} 4 4 1\n\tw\n"
    patches = f"\x1e{SHA_A}\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -2 +2 @@\n-y\n+Y\n"
    result = attribute(
        parse_diff(diff),
        {"f": parse_blame_porcelain(blame)},
        parse_commit_patches(patches),
        {SHA_A: "implement", SHA_B: "test"},
    )
    [hunk] = result.hunks
    assert (hunk.agents, hunk.commits) == (["implement", "test", "unknown"], [SHA_A, SHA_B])
    assert hunk.lines_by_agent == {
        "implement": LineCount(added=1, removed=1),
        "test": LineCount(added=1, removed=0),
        "unknown": LineCount(added=1, removed=0),
    }
    assert (result.total_added, result.total_removed) == (3, 1)

"""The history commands attribution reads: blame over line ranges, per-commit patches."""

from __future__ import annotations

from bot.git.history import blame_porcelain
from bot.git.parse import (
    parse_blame_porcelain,
    parse_commit_patches,
)
from tests.git.helpers import History


async def test_blame_porcelain_limits_to_ranges(history: tuple[History, dict[str, str]]) -> None:
    """blame_porcelain with ranges reports just those lines of the head file."""
    h, shas = history
    text = await blame_porcelain(h.repo, "main..orchestrate/1-task", "a.py", [(3, 4)])
    assert parse_blame_porcelain(text) == {3: shas["implement"], 4: shas["implement"]}


async def test_commit_patches_split_per_commit(history: tuple[History, dict[str, str]]) -> None:
    """commit_patches yields the branch's commits oldest first, each with its files."""
    from bot.git.history import commit_patches

    h, shas = history
    parsed = parse_commit_patches(await commit_patches(h.repo, "main", "orchestrate/1-task"))
    assert [sha for sha, _ in parsed] == [
        shas[r] for r in ("implement", "test", "docs", "human", "orchestrator")
    ]
    assert {f.path for f in parsed[0][1]} == {"a.py", "lib.py", "moved.py"}

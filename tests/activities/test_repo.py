"""The attribution of a real history: every hunk to the agents whose commits wrote it, totals equal to git's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.activities.repo import attribute_range
from bot.core.attribution import (
    Hunk,
    LineCount,
)
from bot.git.history import diff_hunks, diff_numstat
from bot.git.parse import (
    parse_numstat,
)
from tests.git.helpers import SHA_A, SHA_B, SHA_C, History


async def test_attribute_range_matches_numstat_and_line_authors(
    history: tuple[History, dict[str, str]],
) -> None:
    """Totals equal numstat; added lines match the role written in them; removed lines match
    the role that deleted them, as recorded while the history was built."""
    h, _ = history
    result = await attribute_range(h.repo, "main", "orchestrate/1-task")

    numstat = parse_numstat(await diff_numstat(h.repo, "main", "orchestrate/1-task"))
    assert result.total_added == sum(a or 0 for a, _, _ in numstat)
    assert result.total_removed == sum(r or 0 for _, r, _ in numstat)
    per_file = Counter[tuple[str, str]]()
    for hunk in result.hunks:
        per_file[(hunk.path, "+")] += hunk.added
        per_file[(hunk.path, "-")] += hunk.removed
    for added, removed, path in numstat:
        name = path.split(" => ")[-1].rstrip("}")  # "move_me.py => moved.py"
        assert (per_file[(name, "+")], per_file[(name, "-")]) == (added or 0, removed or 0), path

    diff = await diff_hunks(h.repo, "main", "orchestrate/1-task")
    written = Counter(  # every line an agent wrote starts with "<role>:"; the human has none
        ln[1:].split(":")[0].replace("human", "unknown")
        for ln in diff.splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    )
    removed_by_role = Counter(
        h.removed_by[ln[1:]]
        for ln in diff.splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    )
    assert {agent: c.added for agent, c in result.totals_by_agent.items() if c.added} == dict(
        written.items()
    )
    assert {agent: c.removed for agent, c in result.totals_by_agent.items() if c.removed} == dict(
        removed_by_role.items()
    )
    assert list(result.totals_by_agent) == ["implement", "test", "docs", "orchestrator", "unknown"]


async def test_attribute_range_hunks_name_their_agents_and_commits(
    history: tuple[History, dict[str, str]],
) -> None:
    """Mixed, added-then-modified, deleted, renamed and binary files get the right agents."""
    h, shas = history
    result = await attribute_range(h.repo, "main", "orchestrate/1-task")
    by_path: dict[str, list[Hunk]] = {}
    for hunk in result.hunks:
        by_path.setdefault(hunk.path, []).append(hunk)

    mixed = by_path["a.py"][0]
    assert (mixed.new_start, mixed.new_count, mixed.old_count) == (3, 3, 3)
    assert mixed.agents == ["implement", "test"]
    assert mixed.commits == [shas["implement"], shas["test"]]
    [lib] = by_path["lib.py"]
    assert (lib.status, lib.agents, lib.added) == ("added", ["implement", "test"], 5)
    [doomed] = by_path["doomed.txt"]
    assert (doomed.status, doomed.new_count, doomed.removed, doomed.agents) == (
        "deleted",
        0,
        3,
        ["docs"],
    )
    [moved] = by_path["moved.py"]
    assert (moved.old_path, moved.status, moved.agents) == ("move_me.py", "renamed", ["implement"])
    [image] = by_path["img.bin"]
    assert (image.kind, image.agents, image.commits) == ("binary", ["docs"], [shas["docs"]])
    assert [x.agents for x in by_path["old.py"]] == [["docs"], ["orchestrator"]]
    assert by_path["old.py"][0].new_count == 0  # a pure deletion
    [tail] = by_path["tail.txt"]  # main's own change to line 1 is not the branch's
    assert (tail.new_start, tail.added, tail.agents) == (6, 1, ["unknown"])
    assert by_path["a.py"][1].agents == ["unknown"]  # the human commit deleted base line 8


async def test_attribute_range_survives_gitlinks_and_binary_files(tmp_path: Path) -> None:
    """A range that adds, moves and removes gitlinks and changes a binary file gives rows (no
    `git blame` on a gitlink) whose totals equal `git diff --numstat`."""
    h = History(tmp_path / "repo")
    h.repo.mkdir()
    await h.git("init", "--quiet", "--initial-branch=main")
    for gitlink in ("vendor/old", "vendor/moved", ".github/workflows"):
        (h.repo / gitlink).mkdir(parents=True)  # an unpopulated submodule: `add -A` keeps it
    await h.git("update-index", "--add", "--cacheinfo", f"160000,{SHA_A},vendor/old")
    await h.git("update-index", "--add", "--cacheinfo", f"160000,{SHA_B},vendor/moved")
    await h.commit(None, {"a.txt": "one\n", "img.bin": b"\x00base"})
    await h.git("checkout", "--quiet", "-b", "orchestrate/2-x")
    await h.git("update-index", "--add", "--cacheinfo", f"160000,{SHA_C},.github/workflows")
    await h.git("update-index", "--add", "--cacheinfo", f"160000,{SHA_C},vendor/moved")
    await h.git("update-index", "--force-remove", "vendor/old")
    implement = await h.commit("implement", {"a.txt": "one\nimplement: two\n"})
    docs = await h.commit("docs", {"img.bin": b"\x00\x01docs"})

    result = await attribute_range(h.repo, "main", "orchestrate/2-x")
    rows = {hunk.path: hunk for hunk in result.hunks}
    assert {path: rows[path].kind for path in rows} == {
        ".github/workflows": "submodule",
        "vendor/moved": "submodule",
        "vendor/old": "submodule",
        "a.txt": "lines",
        "img.bin": "binary",
    }
    assert rows[".github/workflows"].agents == ["implement"]
    assert rows["vendor/moved"].commits == [implement]
    assert (rows["img.bin"].agents, rows["img.bin"].commits) == (["docs"], [docs])
    assert rows["a.txt"].lines_by_agent == {"implement": LineCount(added=1)}
    numstat = parse_numstat(await diff_numstat(h.repo, "main", "orchestrate/2-x"))
    assert result.total_added == sum(a or 0 for a, _, _ in numstat) == 3
    assert result.total_removed == sum(r or 0 for _, r, _ in numstat) == 2

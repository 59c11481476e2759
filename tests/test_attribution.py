"""Attribution: git output parsers, line tracing, the hunk → agent mapping and its table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.activities.repo import attribute_range
from bot.core.attribution import (
    Attribution,
    Hunk,
    LineCount,
    attribute,
    follow_line,
    trace_removals,
)
from bot.core.diff import FileDiff, RawHunk
from bot.git.history import blame_porcelain, diff_hunks, diff_numstat
from bot.git.parse import (
    parse_agent_log,
    parse_blame_porcelain,
    parse_commit_patches,
    parse_diff,
    parse_numstat,
    unquote_path,
)
from bot.git.run import run_git
from bot.render.attribution import render_table

SHA_A = "a" * 40
SHA_B = "b" * 40
SHA_C = "c" * 40

# ---- parsers on literal git output ----------------------------------------------------------

DIFF = """\
diff --git a/src/app.py b/src/app.py
index 1111111..2222222 100644
--- a/src/app.py
+++ b/src/app.py
@@ -3 +3 @@ def main():
-    old()
+    new()
@@ -10,2 +10,0 @@ def main():
--- a/looks-like-a-header
-second removed
@@ -20,0 +19,3 @@ def other():
+one
+two
+three
\\ No newline at end of file
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 3333333..0000000
--- a/gone.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-a
-b
diff --git a/new file.txt b/new file.txt
new file mode 100644
index 0000000..4444444
--- /dev/null
+++ b/new file.txt\t
@@ -0,0 +1 @@
+hello
diff --git a/old name.py "b/tab\\there\\303\\251.py"
similarity index 90%
rename from old name.py
rename to "tab\\there\\303\\251.py"
index 5555555..6666666 100644
--- a/old name.py\t
+++ "b/tab\\there\\303\\251.py"
@@ -2 +2 @@
-x
+y
diff --git a/logo.png b/logo.png
index 7777777..8888888 100644
Binary files a/logo.png and b/logo.png differ
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
diff --git a/a b.txt b/c d.txt
similarity index 100%
rename from a b.txt
rename to c d.txt
"""


def test_parse_diff_reads_every_kind_of_file_section() -> None:
    """Hunks (with implied counts), added, deleted, renamed, quoted, binary and mode-only files."""
    files = parse_diff(DIFF)
    assert [(f.old_path, f.new_path, f.status) for f in files] == [
        ("src/app.py", "src/app.py", "modified"),
        ("gone.txt", None, "deleted"),
        (None, "new file.txt", "added"),
        ("old name.py", "tab\there\u00e9.py", "renamed"),
        ("logo.png", "logo.png", "modified"),
        ("run.sh", "run.sh", "modified"),
        ("a b.txt", "c d.txt", "renamed"),
    ]
    app = files[0]
    assert app.hunks == [RawHunk(3, 1, 3, 1), RawHunk(10, 2, 10, 0), RawHunk(20, 0, 19, 3)]
    assert (app.added, app.removed) == (4, 3)
    assert files[1].hunks == [RawHunk(1, 2, 0, 0)]
    assert files[2].hunks == [RawHunk(0, 0, 1, 1)]
    assert [f.binary for f in files] == [False, False, False, False, True, False, False]
    assert files[5].mode_changed and not files[5].hunks
    assert files[6].hunks == []


GITLINK_DIFF = """\
diff --git a/vendor/new b/vendor/new
new file mode 160000
index 0000000..1111111
--- /dev/null
+++ b/vendor/new
@@ -0,0 +1 @@
+Subproject commit 1111111111111111111111111111111111111111
diff --git a/vendor/moved b/vendor/moved
index 2222222..3333333 160000
--- a/vendor/moved
+++ b/vendor/moved
@@ -1 +1 @@
-Subproject commit 2222222222222222222222222222222222222222
+Subproject commit 3333333333333333333333333333333333333333
diff --git a/vendor/gone b/vendor/gone
deleted file mode 160000
index 4444444..0000000
--- a/vendor/gone
+++ /dev/null
@@ -1 +0,0 @@
-Subproject commit 4444444444444444444444444444444444444444
diff --git a/text.txt b/text.txt
index 5555555..6666666 100644
--- a/text.txt
+++ b/text.txt
@@ -1 +1 @@
-Subproject commit 2222222222222222222222222222222222222222
+an ordinary file may say so too
"""


def test_parse_diff_marks_gitlinks_on_either_side() -> None:
    """Added, moved and deleted gitlinks are submodules; a text file quoting one is not."""
    files = parse_diff(GITLINK_DIFF)
    assert [(f.path, f.status, f.submodule) for f in files] == [
        ("vendor/new", "added", True),
        ("vendor/moved", "modified", True),
        ("vendor/gone", "deleted", True),
        ("text.txt", "modified", False),
    ]


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


def test_unquote_path_undoes_c_quoting() -> None:
    """Escapes and octal UTF-8 bytes come back as the real name; plain names are untouched."""
    assert unquote_path('"a\\\\b\\"c\\td\\303\\251"') == 'a\\b"c\td\u00e9'
    assert unquote_path("plain name.txt") == "plain name.txt"


def test_parse_blame_porcelain_maps_final_lines_to_commits() -> None:
    """Every final line number maps to the sha on its header, boundary lines included."""
    blame = (
        f"{SHA_A} 1 1 1\nauthor a\nboundary\nfilename f\n\tx\n"
        f"{SHA_B} 2 2 2\nauthor a\nprevious {SHA_A} f\nfilename f\n\tY\n"
        f"{SHA_B} 3 3\nauthor a\nfilename f\n\t{SHA_C} 9 9 9\n"
    )
    assert parse_blame_porcelain(blame) == {1: SHA_A, 2: SHA_B, 3: SHA_B}


def test_parse_agent_log_reads_trailers_in_order() -> None:
    """Trailer values map to roles; none → unknown; several → the last."""
    log = f"{SHA_A}\x1fimplement\x1e\n{SHA_B}\x1f\x1e\n{SHA_C}\x1fdocs,test\x1e\n"
    assert list(parse_agent_log(log).items()) == [
        (SHA_A, "implement"),
        (SHA_B, "unknown"),
        (SHA_C, "test"),
    ]


def test_parse_numstat_marks_binary_counts_as_none() -> None:
    """numstat rows parse to counts, with None for binary files."""
    assert parse_numstat("3\t1\ta.py\n-\t-\timg.png\n") == [(3, 1, "a.py"), (None, None, "img.png")]


# ---- following base lines through patches --------------------------------------------------


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


# ---- attribute() on constructed strings -----------------------------------------------------


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


# ---- a real history in a temporary repository -----------------------------------------------


@dataclass
class History:
    """Builds commits as agents would, and records independently who removed which base line."""

    repo: Path
    base_lines: set[str] = field(default_factory=set)
    removed_by: dict[str, str] = field(default_factory=dict)  # base line text → role

    async def git(self, *args: str) -> str:
        return (await run_git(args, cwd=self.repo)).stdout

    async def commit(self, role: str | None, files: dict[str, str | bytes | None]) -> str:
        for name, content in files.items():
            path = self.repo / name
            before = path.read_text().splitlines() if path.exists() and name != "img.bin" else []
            if content is None:
                path.unlink()
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
            after = set(content.splitlines()) if isinstance(content, str) else set()
            for line in set(before) - after:
                if line in self.base_lines:
                    self.removed_by.setdefault(line, role or "unknown")
        await self.git("add", "-A")
        trailer = [f"--trailer=Orchestrate-Agent: {role}"] if role else []
        await self.git("commit", "--quiet", "-m", f"work of {role}", *trailer)
        return (await self.git("rev-parse", "HEAD")).strip()


def lines(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{n}\n" for n in range(1, count + 1))


@pytest.fixture
async def history(tmp_path: Path) -> tuple[History, dict[str, str]]:
    """main, then a scratch branch where implement, test, docs, a human and the orchestrator
    commit; main moves on after the fork. Returns the builder and the shas by role."""
    repo = tmp_path / "repo"
    repo.mkdir()
    h = History(repo)
    await h.git("init", "--quiet", "--initial-branch=main")
    base: dict[str, str | bytes | None] = {
        "a.py": lines("base a", 10),
        "old.py": lines("base o", 8),
        "doomed.txt": lines("base d", 3),
        "move_me.py": lines("base m", 6),
        "tail.txt": lines("base t", 5),
        "img.bin": b"\x00\x01base",
    }
    await h.commit(None, dict(base))
    h.base_lines = {
        ln for text in base.values() if isinstance(text, str) for ln in text.split("\n")
    }
    await h.git("checkout", "--quiet", "-b", "orchestrate/1-task")
    a = lines("base a", 10).splitlines()
    shas = {}
    a[2:4] = ["implement: a3", "implement: a4"]
    moved = lines("base m", 6).replace("base m2", "implement: m2")
    lib = lines("implement: l", 5)
    shas["implement"] = await h.commit(
        "implement",
        {"a.py": "\n".join(a) + "\n", "lib.py": lib, "move_me.py": None, "moved.py": moved},
    )
    a[4] = "test: a5"  # adjacent to implement's lines 3-4: one hunk in the final diff
    shas["test"] = await h.commit(
        "test",
        {
            "a.py": "\n".join(a) + "\n",
            "lib.py": lib.replace("implement: l3", "test: l3"),
            "tests/test_lib.py": lines("test: t", 3),
        },
    )
    old = lines("base o", 8).splitlines()
    del old[1:3]
    shas["docs"] = await h.commit(
        "docs",
        {
            "doomed.txt": None,
            "old.py": "\n".join(old) + "\n",
            "img.bin": b"\x00\x02docs",
            "README.md": "docs: r1\n",
        },
    )
    del a[7]
    shas["human"] = await h.commit(
        None, {"tail.txt": lines("base t", 5) + "human: t6\n", "a.py": "\n".join(a) + "\n"}
    )
    old[3] = "orchestrator: o6"
    shas["orchestrator"] = await h.commit("orchestrator", {"old.py": "\n".join(old) + "\n"})
    await h.git("checkout", "--quiet", "main")
    await h.commit(None, {"tail.txt": lines("base t", 5).replace("base t1", "main: t1")})
    return h, shas


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


# ---- the table ------------------------------------------------------------------------------


def _hunk(path: str, **kw: object) -> Hunk:
    fields: dict[str, object] = dict(
        path=path, old_path=path, status="modified", new_start=3, new_count=2, old_start=3,
        old_count=1, added=2, removed=1, agents=["implement"], commits=[SHA_A],
        lines_by_agent={"implement": LineCount(added=2, removed=1)},
    )  # fmt: skip
    fields.update(kw)
    return Hunk.model_validate(fields)


def _attribution(*hunks: Hunk) -> Attribution:
    totals: dict[str, LineCount] = {}
    for hunk in hunks:
        for agent, count in hunk.lines_by_agent.items():
            total = totals.setdefault(agent, LineCount())
            total.added += count.added
            total.removed += count.removed
    return Attribution(
        hunks=list(hunks),
        totals_by_agent=totals,
        total_added=sum(h.added for h in hunks),
        total_removed=sum(h.removed for h in hunks),
    )


def test_render_table_rows_and_totals() -> None:
    """One row per hunk (range, deletion, binary, rename), a totals row per agent and overall."""
    attr = _attribution(
        _hunk("src/app.py", agents=["implement", "test"], commits=[SHA_A, SHA_B]),
        _hunk(
            "gone.txt",
            status="deleted",
            new_start=0,
            new_count=0,
            added=0,
            removed=3,
            agents=["docs"],
            commits=[SHA_C],
            lines_by_agent={"docs": LineCount(removed=3)},
        ),
        _hunk(
            "logo.png",
            kind="binary",
            new_start=0,
            new_count=0,
            old_start=0,
            old_count=0,
            added=0,
            removed=0,
            agents=["docs"],
            commits=[SHA_C],
            lines_by_agent={},
        ),
        _hunk("new.py", old_path="old.py", status="renamed", new_start=7, new_count=1),
    )
    assert render_table(attr) == (
        "| File | Lines | Agent(s) | Commit(s) | +/- |\n"
        "|---|---|---|---|---|\n"
        "| `src/app.py` | L3–L4 | implement, test | aaaaaaa, bbbbbbb | +2/-1 |\n"
        "| `gone.txt` | (deleted) | docs | ccccccc | +0/-3 |\n"
        "| `logo.png` | (binary) | docs | ccccccc | +0/-0 |\n"
        "| `old.py` → `new.py` | L7 | implement | aaaaaaa | +2/-1 |\n"
        "| **Total** | | implement | | +4/-2 |\n"
        "| **Total** | | docs | | +0/-3 |\n"
        "| **Total** | | **all** | | +4/-5 |\n"
    )


def test_render_table_escapes_paths_and_agents_and_links_lines() -> None:
    """Pipes and backticks in paths cannot break the table; agent names cannot mention; links."""
    attr = _attribution(
        _hunk("we|ird`name.py", agents=["@everyone <b>"], commits=[SHA_A], lines_by_agent={}),
    )
    table = render_table(attr, blob_url=lambda path, line: f"https://x/blob/h/{path}#L{line}")
    row = table.splitlines()[2]
    assert row.startswith("| ``we\\|ird`name.py`` | [L3–L4](https://x/blob/h/we%7Cird`name.py#L3)")
    assert "| @\u200beveryone &lt;b\\> |" in row  # shown as typed, pinging nobody
    assert row.count(" | ") == 4  # five cells: no unescaped pipe split the path


def test_render_table_caps_rows_but_keeps_totals() -> None:
    """max_rows folds the remaining hunks into one row; the totals still cover all of them."""
    attr = _attribution(*(_hunk(f"f{n}.py") for n in range(5)))
    table = render_table(attr, max_rows=2).splitlines()
    assert table[4] == "| … 3 more hunks | | | | +6/-3 |"
    assert table[-1] == "| **Total** | | **all** | | +10/-5 |"

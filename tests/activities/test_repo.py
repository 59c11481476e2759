"""The attribution of a real history: every hunk to the agents whose commits wrote it, totals equal to git's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from bot.activities.inputs import AttributeInput, TargetInput
from bot.activities.repo import (
    CONFIG_MAX_BYTES,
    README_HEAD_LINES,
    SUMMARY_LINE_CHARS,
    SUMMARY_MAX_CHARS,
    SUMMARY_MAX_FILES,
    RepoActivities,
    attribute_range,
)
from bot.app.local_forge import LocalForge
from bot.core.attribution import (
    Hunk,
    LineCount,
)
from bot.core.targets import CommentKind, RepoRef, Target
from bot.git.history import diff_hunks, diff_numstat
from bot.git.mirror import MirrorCache
from bot.git.parse import (
    parse_numstat,
)
from bot.render.attribution import UNAVAILABLE
from tests.attacks.hostile_git import plain_git
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


# ---- bounds on what repository content can make the activities return ------------------------

TARGET = Target(
    installation_id=1,
    repo=RepoRef(id=1, owner="o", name="r"),
    issue_number=1,
    comment_kind=CommentKind.ISSUE,
    comment_id=1,
)


def local_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    plain_git(repo, "init", "-q", "-b", "main")
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    plain_git(repo, "add", "-A")
    plain_git(repo, "commit", "-qm", "base")
    return repo


def repo_activities(tmp_path: Path, repo: Path) -> RepoActivities:
    return RepoActivities(LocalForge(repo), MirrorCache(tmp_path / "cache"))


@pytest.mark.parametrize(
    "readme",
    [
        "# tiny " + "x" * 3_000_000 + "\n",  # one 3 MB line
        ("y" * 10_000 + "\n") * 5_000,  # 5,000 long lines
        "\n" * 2_000_000,  # two million empty lines
    ],
    ids=["one huge line", "many long lines", "many lines"],
)
async def test_the_repository_summary_is_bounded_whatever_the_readme(
    tmp_path: Path, readme: str
) -> None:
    """However the README is shaped, the summary keeps at most its first lines, each cut, and
    the whole stays within its limit."""
    repo = local_repo(tmp_path, {"README.md": readme, "a.py": "x = 1\n"})

    context = await ActivityEnvironment().run(
        repo_activities(tmp_path, repo).run_context, TargetInput(target=TARGET)
    )

    summary = context.repo_summary
    assert len(summary) <= SUMMARY_MAX_CHARS
    assert summary.startswith("Files:\nREADME.md\na.py\n\nREADME.md (start):\n")
    shown = summary.split("(start):\n", 1)[1].split("\n")
    assert len(shown) <= README_HEAD_LINES
    assert all(len(line) <= SUMMARY_LINE_CHARS + 4 for line in shown)


async def test_many_long_file_names_are_listed_within_bounds(tmp_path: Path) -> None:
    """Thousands of files with long names: the first names, each cut, and a note that there
    are more."""
    names = {f"{'n' * 240}/{index:05}{'m' * 240}.txt": "" for index in range(2_000)}
    repo = local_repo(tmp_path, names)

    context = await ActivityEnvironment().run(
        repo_activities(tmp_path, repo).run_context, TargetInput(target=TARGET)
    )

    lines = context.repo_summary.split("\n")
    assert lines[-1] == "… and more files" and 50 < len(lines) < 2 + SUMMARY_MAX_FILES
    assert all(len(line) <= SUMMARY_LINE_CHARS + 4 for line in lines)
    assert len(context.repo_summary) <= SUMMARY_MAX_CHARS


async def test_an_oversized_config_is_a_config_error(tmp_path: Path) -> None:
    """A settings file over its size limit is reported as a config problem, not parsed."""
    big = "# padding\n" * 10_000 + "max_rounds: 1\n"
    repo = local_repo(tmp_path, {".github/orchestrate.yml": big})

    context = await ActivityEnvironment().run(
        repo_activities(tmp_path, repo).run_context, TargetInput(target=TARGET)
    )

    assert context.config is None
    assert (
        context.config_error == f".github/orchestrate.yml is larger than {CONFIG_MAX_BYTES} bytes"
    )


async def test_an_attribution_that_fails_is_a_note_not_an_error(tmp_path: Path) -> None:
    """Attribution over what agents wrote fails (here: a base the repository does not have):
    the activity answers with a note for the pull request instead of failing the run."""
    repo = local_repo(tmp_path, {"a.py": "x = 1\n"})
    plain_git(repo, "branch", "orchestrate/1-x")
    attribute = AttributeInput(target=TARGET, branch="orchestrate/1-x", base_sha="f" * 40)

    result = await ActivityEnvironment().run(repo_activities(tmp_path, repo).attribute, attribute)

    assert result.table == UNAVAILABLE

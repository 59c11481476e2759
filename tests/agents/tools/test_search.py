"""The search tool: git grep over tracked and untracked files, capped, never an option."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.agents.tools.search import git_grep
from bot.errors import ToolError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with tracked, untracked and ignored files."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return helper(1)\n")
    (root / "src" / "util.py").write_text("def helper(x):\n    return x  # --version\n")
    (root / "README.md").write_text("Call helper(x) from main.\n")
    (root / ".gitignore").write_text("ignored.txt\n")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True, env=env)
    (root / "src" / "new.py").write_text("helper(2)\n")
    (root / "ignored.txt").write_text("helper(3)\n")
    return root


async def test_grep_finds_tracked_and_untracked_not_ignored(repo: Path) -> None:
    """Matches come as path:line:text from tracked and new files, never ignored ones."""
    out = await git_grep(repo, r"helper\(")
    assert out.splitlines() == [
        "README.md:1:Call helper(x) from main.",
        "src/app.py:2:    return helper(1)",
        "src/new.py:1:helper(2)",
        "src/util.py:1:def helper(x):",
    ]


async def test_grep_path_glob_and_fixed_string(repo: Path) -> None:
    """A path glob narrows the search; a fixed string is not a regex."""
    assert await git_grep(repo, "helper", path_glob="**/*.md") == (
        "README.md:1:Call helper(x) from main.\n"
    )
    assert await git_grep(repo, "helper(x)", fixed_string=True, path_glob="src/*") == (
        "src/util.py:1:def helper(x):\n"
    )


async def test_grep_pattern_is_never_an_option(repo: Path) -> None:
    """A pattern that looks like an option is searched for, not obeyed."""
    assert await git_grep(repo, "--version") == "src/util.py:2:    return x  # --version\n"


async def test_grep_no_matches_and_git_dir_not_searched(repo: Path) -> None:
    """No match says so; .git's own files are not searched."""
    assert await git_grep(repo, "no_such_name_anywhere") == "no matches"
    assert await git_grep(repo, "repositoryformatversion") == "no matches"


async def test_grep_caps_results(repo: Path) -> None:
    """More matches than max_results are cut with a marker."""
    out = await git_grep(repo, "helper", max_results=2)
    assert out.splitlines()[:2] == [
        "README.md:1:Call helper(x) from main.",
        "src/app.py:2:    return helper(1)",
    ]
    assert out.endswith("[... more than 2 matches]\n")


async def test_grep_errors(repo: Path) -> None:
    """A bad regex, an empty pattern and globs leaving the repository are tool errors."""
    with pytest.raises(ToolError, match="git grep failed"):
        await git_grep(repo, "(unclosed")
    with pytest.raises(ToolError, match="empty"):
        await git_grep(repo, "")
    for glob in ("../*", "/etc/*"):
        with pytest.raises(ToolError, match="relative to the repository"):
            await git_grep(repo, "x", path_glob=glob)

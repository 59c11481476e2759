"""Fixtures of the tool tests: a worktree-like directory with the traps a path can meet."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A worktree-like directory: files, a `.git` file, a nested repo, links in and out."""
    root = tmp_path / "wt"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("a = 1\nb = 2\nc = 3\n")
    (root / ".git").write_text("gitdir: /srv/mirror/.git/worktrees/wt\n")
    (root / "vendor" / ".git" / "hooks").mkdir(parents=True)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "etc_link").symlink_to("/etc")
    (root / "pkg_link").symlink_to(root / "pkg")
    (root / "workflows_link").symlink_to(".github/workflows")
    (root / "git_link").symlink_to(".git")
    return root

"""Nested repositories a sandbox wrote are removed before host git looks."""

from __future__ import annotations

from pathlib import Path

from bot.git.scrub import remove_nested_repos


def test_remove_nested_repos_deletes_every_dot_git_below_the_root(tmp_path: Path) -> None:
    """Directories, files and symlinks named .git in any case, at any depth, go; the root's own
    .git stays; a symlinked directory is not followed (its target is not touched)."""
    (tmp_path / ".git").write_text("gitdir: /somewhere\n")
    (tmp_path / "a" / "b" / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / ".GIT").write_text("gitdir: ../x\n")
    (tmp_path / ".Git").symlink_to(tmp_path / "a")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    (outside / ".git").mkdir(parents=True)
    (tmp_path / "link").symlink_to(outside)
    locked = tmp_path / "locked"
    (locked / "deep" / ".git").mkdir(parents=True)
    locked.chmod(0)

    removed = remove_nested_repos(tmp_path)

    assert removed == [".Git", "a/b/.git", "c/.GIT", "locked/deep/.git"]
    assert (tmp_path / ".git").read_text() == "gitdir: /somewhere\n"
    assert (tmp_path / "a" / "b").is_dir() and (outside / ".git").is_dir()
    assert remove_nested_repos(tmp_path) == []

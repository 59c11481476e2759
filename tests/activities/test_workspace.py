"""The activities' worktrees: removed afterwards whatever happened, and a removal that fails
never fails the work that was done in them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.activities import workspace
from bot.activities.workspace import checked_out
from bot.core.remote import Remote
from bot.git.mirror import MirrorCache
from tests.attacks.hostile_git import plain_git

BRANCH = "orchestrate/1-x"


def remote_repo(tmp_path: Path) -> Remote:
    seed, bare = tmp_path / "seed", tmp_path / "remote.git"
    seed.mkdir()
    plain_git(seed, "init", "-q")
    (seed / "a.txt").write_text("a\n")
    plain_git(seed, "add", "-A")
    plain_git(seed, "commit", "-qm", "base")
    plain_git(tmp_path, "init", "-q", "--bare", str(bare))
    plain_git(seed, "push", "-q", str(bare), f"HEAD:refs/heads/{BRANCH}")
    return Remote(str(bare), scope="local/test")


async def test_a_worktree_is_removed_after_the_work(tmp_path: Path) -> None:
    """The worktree is gone once the block ends, whatever was left in it."""
    path = tmp_path / "work" / "wt"
    async with checked_out(
        MirrorCache(tmp_path / "cache"), remote_repo(tmp_path), BRANCH, path
    ) as tree:
        (tree.path / "left.txt").write_text("x")
    assert not path.exists()


@pytest.mark.parametrize("error", [RecursionError("deep"), OSError(36, "File name too long")])
async def test_a_failed_removal_fails_no_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: BaseException,
) -> None:
    """Whatever the deletion raises (the files are a sandbox's), the block's result stands and
    the failure is logged."""

    def failing(path: Path) -> None:
        raise error

    monkeypatch.setattr(workspace, "delete_tree", failing, raising=False)
    monkeypatch.setattr("bot.git.checkout.delete_tree", failing)
    path = tmp_path / "work" / "wt"
    with caplog.at_level(logging.ERROR, logger=workspace.__name__):
        async with checked_out(
            MirrorCache(tmp_path / "cache"), remote_repo(tmp_path), BRANCH, path
        ) as tree:
            done = tree.path.is_dir()

    assert done
    assert [r.getMessage().split(" ")[0] for r in caplog.records] == ["could", "could"]

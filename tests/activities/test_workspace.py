"""The activities' worktrees: removed afterwards whatever happened, a removal that fails never
fails the work that was done in them, and one a killed process left is swept before the next
(a live process's never)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.activities import workspace
from bot.activities.workspace import checked_out, sweep_abandoned_work
from bot.core.remote import Remote
from bot.git.checkout import _worktree_location
from bot.git.mirror import MirrorCache
from tests.attacks.hostile_git import plain_git
from tests.support.held_worker import hold, kill, registered

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


def private_branches(cache: MirrorCache, remote: Remote) -> list[str]:
    listed = plain_git(cache.mirror_path(remote), "for-each-ref", "--format=%(refname:short)")
    return [name for name in listed.split() if name.startswith("worktree/")]


async def test_a_killed_processs_worktree_is_swept_before_the_next_one(tmp_path: Path) -> None:
    """An agent's worktree whose process was SIGKILLed is deleted when the next worktree is
    made, and the mirror forgets it (its record and its private branch); its run's empty
    directory goes too."""
    cache, remote = MirrorCache(tmp_path / "cache"), remote_repo(tmp_path)
    dead, fresh = tmp_path / "work" / "run-1" / "x-a1", tmp_path / "work" / "run-2" / "y-a1"
    kill(hold("workdir", cache.root, remote.url, BRANCH, dead))
    assert (dead / "work.txt").exists() and registered(cache.mirror_path(remote)) == [dead]
    async with checked_out(cache, remote, BRANCH, fresh):
        assert not dead.parent.exists()
        assert registered(cache.mirror_path(remote)) == [fresh]
        assert private_branches(cache, remote) == [_worktree_location(fresh)[1]]
    assert not fresh.exists() and not dead.with_name("x-a1.held").exists()


async def test_a_live_processs_worktree_is_never_swept(tmp_path: Path) -> None:
    """A worktree whose process is alive (another worker sharing the data directory) stays,
    registered, through sweeps and other worktrees; once that process is killed it goes."""
    cache, remote = MirrorCache(tmp_path / "cache"), remote_repo(tmp_path)
    live, work = tmp_path / "work" / "run-1" / "x-a1", tmp_path / "work"
    child = hold("workdir", cache.root, remote.url, BRANCH, live)
    try:
        async with checked_out(cache, remote, BRANCH, work / "run-2" / "y-a1"):
            await sweep_abandoned_work(cache, work)
        assert (live / "work.txt").read_text() == "half done\n"
        assert registered(cache.mirror_path(remote)) == [live]
    finally:
        kill(child)
    await sweep_abandoned_work(cache, work)
    assert not live.exists() and registered(cache.mirror_path(remote)) == []

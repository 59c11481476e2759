"""Worktrees: commits with the agent trailer, changed files, discards, rebase conflicts, and their life in a mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.remote import Remote
from bot.errors import GitError, RebaseConflict
from bot.git.checkout import open_worktree, remove_worktree
from bot.git.history import log_with_trailers
from bot.git.mirror import (
    MirrorCache,
)
from bot.git.parse import parse_agent_log
from bot.git.refs import push
from tests.git.helpers import BRANCH, git, remote_sha, two_agents


async def test_commit_all_adds_the_trailer_and_skips_empty_commits(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """commit_all stages new files, tags the role (a forged trailer is dropped); clean → None."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    assert await tree.commit_all("nothing", "implement") is None
    (tree.path / "lib.py").write_text("x = 1\n")
    forged = "Add lib\n\nOrchestrate-Agent: docs\n"
    sha = await tree.commit_all(forged, "implement")
    assert sha == await tree.head()
    body = await git(tree.path, "log", "-1", "--format=%B")
    assert body == "Add lib\n\nOrchestrate-Agent: implement\n\n"
    author = await git(tree.path, "log", "-1", "--format=%an <%ae>")
    assert author.strip() == "orchestrate[bot] <orchestrate[bot]@users.noreply.github.com>"


async def test_changed_files_lists_uncommitted_paths(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Modified and untracked files are reported; after a commit there are none."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "shared.txt").write_text("changed\n")
    (tree.path / "dir").mkdir()
    (tree.path / "dir" / "new file.txt").write_text("new\n")
    assert await tree.changed_files() == ["dir/new file.txt", "shared.txt"]
    await tree.commit_all("change", "implement")
    assert await tree.changed_files() == []


async def test_discard_drops_changes_to_named_paths_only(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Discarding restores tracked files, deletes new ones, and leaves other changes alone."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "shared.txt").write_text("changed\n")
    (tree.path / ".github" / "workflows").mkdir(parents=True)
    (tree.path / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (tree.path / "kept.txt").write_text("kept\n")
    await tree.discard(["shared.txt", ".github/workflows/ci.yml"])
    assert await tree.changed_files() == ["kept.txt"]
    assert (tree.path / "shared.txt").read_text() == "one\ntwo\nthree\n"
    await tree.discard([])


async def test_conflict_is_raised_resolved_and_pushed(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A conflicting rebase raises RebaseConflict(files) mid-rebase; the fix then pushes."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "shared.txt").write_text("one\nTWO by implement\nthree\n")
    (second.path / "shared.txt").write_text("one\ntwo by test\nthree\n")
    (second.path / "other.txt").write_text("fine\n")
    await first.commit_all("implement two", "implement")
    await second.commit_all("test two", "test")
    await push(cache, first)
    with pytest.raises(RebaseConflict) as caught:
        await push(cache, second)
    assert caught.value.files == ["shared.txt"]
    assert await second.rebase_in_progress()
    assert "<<<<<<<" in (second.path / "shared.txt").read_text()
    with pytest.raises(GitError, match="rebase is in progress"):
        await push(cache, second)
    resolved = "one\nTWO by implement, two by test\nthree\n"
    (second.path / "shared.txt").write_text(resolved)
    await second.continue_rebase()
    head = await push(cache, second)
    assert await remote_sha(remote, BRANCH) == head
    assert await git(Path(remote.url), "show", f"{BRANCH}:shared.txt") == resolved
    agents = parse_agent_log(await log_with_trailers(Path(remote.url), "main", BRANCH))
    assert list(agents.values()) == ["implement", "test"]


async def test_continue_rebase_refuses_leftover_markers(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Staging a file that still has conflict markers raises RebaseConflict and stays mid-rebase."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "shared.txt").write_text("one\nA\nthree\n")
    (second.path / "shared.txt").write_text("one\nB\nthree\n")
    await first.commit_all("a", "implement")
    await second.commit_all("b", "test")
    await push(cache, first)
    with pytest.raises(RebaseConflict):
        await push(cache, second)
    with pytest.raises(RebaseConflict, match="conflict markers remain") as caught:
        await second.continue_rebase()
    assert caught.value.files == ["shared.txt"]
    assert await second.rebase_in_progress()


async def test_abort_rebase_restores_the_local_commit(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """abort_rebase leaves the worktree as it was before the rebase, with its commit."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "shared.txt").write_text("A\n")
    (second.path / "shared.txt").write_text("B\n")
    await first.commit_all("a", "implement")
    own = await second.commit_all("b", "test")
    await push(cache, first)
    with pytest.raises(RebaseConflict):
        await push(cache, second)
    await second.abort_rebase()
    assert not await second.rebase_in_progress()
    assert await second.head() == own
    assert (second.path / "shared.txt").read_text() == "B\n"


async def test_open_worktree_needs_an_existing_remote_branch(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Opening a branch the remote lacks fails clearly instead of inventing it."""
    with pytest.raises(GitError, match="does not exist on the remote"):
        await open_worktree(cache, remote, "orchestrate/404-none", tmp_path / "wt")


async def test_reopening_a_path_replaces_the_old_worktree(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A retried activity reopening its path gets a fresh checkout of the remote branch."""
    old = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (old.path / "scratch.txt").write_text("unpushed\n")
    await old.commit_all("local only", "implement")
    new = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    assert await new.head() == await remote_sha(remote, BRANCH)
    assert not (new.path / "scratch.txt").exists()


async def test_remove_deletes_worktree_and_private_branch(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """remove() deletes the directory, the mirror's record and the private branch."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    mirror = cache.mirror_path(remote)
    assert tree.local_branch in await git(mirror, "branch", "--list")
    await remove_worktree(cache, tree)
    assert not tree.path.exists()
    assert str(tree.path) not in await git(mirror, "worktree", "list", "--porcelain")
    assert tree.local_branch not in await git(mirror, "branch", "--list")


async def test_worktree_refuses_git_when_its_dot_git_was_repointed(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A worktree whose .git no longer names its mirror runs no further git command."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    elsewhere = tmp_path / "elsewhere"
    await git(tmp_path, "init", "--quiet", str(elsewhere))
    (tree.path / ".git").write_text(f"gitdir: {elsewhere}/.git\n")
    with pytest.raises(GitError, match="no longer points at the app's mirror"):
        await tree.changed_files()

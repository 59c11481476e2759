"""A worktree's life in the mirror: opened freshly fetched on a private local branch, removed
with its branch and the mirror's record of it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.mirror import MirrorCache
from bot.git.worktree import Worktree
from bot.sandbox.trees import delete_tree

__all__ = ["forget_worktrees", "open_worktree", "remove_worktree"]


def _worktree_location(path: Path) -> tuple[Path, str]:
    """The absolute path and the private local branch name of a worktree."""
    path = path.absolute()
    return path, "worktree/" + hashlib.sha256(str(path).encode()).hexdigest()[:16]


async def open_worktree(
    cache: MirrorCache, remote: Remote, branch: str, path: Path, *, start: str | None = None
) -> Worktree:
    """A private worktree at `path` on the remote's `branch` (or at the remote branch `start`,
    to rebase it onto `branch`), freshly fetched.

    The worktree's local branch has a private name (`worktree/<hash of path>`) at
    origin/<branch>: git refuses one branch in two worktrees, and two agents of a run may share
    a worker. Pushes go to the remote `branch` by name, from the mirror.
    """
    path, local = _worktree_location(path)
    async with cache.locked(remote) as mirror:
        await cache.sync_locked(remote, mirror)
        for name in {branch, start or branch}:
            if await cache.remote_head(mirror, name) is None:
                raise GitError(f"branch {name!r} does not exist on the remote")
        listed = await cache.git(["worktree", "list", "--porcelain"], cwd=mirror)
        if f"worktree {path}\n" in listed.stdout + "\n":
            # Left by an earlier attempt of the same activity: the remote holds the truth. Its
            # files may be a sandbox's: deleted without letting git look at them.
            await asyncio.to_thread(delete_tree, path)
        elif path.exists() and any(path.iterdir()):
            raise GitError(f"worktree path {path} exists and is not empty")
        await cache.git(["worktree", "prune"], cwd=mirror)
        start_ref = f"refs/remotes/origin/{start or branch}"
        await cache.git(
            ["worktree", "add", "--quiet", "--no-track", "-B", local, str(path), start_ref],
            cwd=mirror,
        )
    return Worktree(cache.git, remote, branch, path, local, cache.mirror_path(remote))


async def remove_worktree(cache: MirrorCache, tree: Worktree) -> None:
    """Delete the worktree, its private branch and the mirror's record of it.

    The files go first, by plain deletion: git never looks at what a sandbox left there.
    """
    await asyncio.to_thread(delete_tree, tree.path)
    async with cache.locked(tree.remote) as mirror:
        if not mirror.is_dir():  # discarded as tampered: nothing left to tidy
            return
        await cache.git(["worktree", "prune"], cwd=mirror)
        await cache.git(["branch", "-D", tree.local_branch], cwd=mirror, check=False)


async def forget_worktrees(cache: MirrorCache, paths: Sequence[Path]) -> None:
    """After the directories at `paths` were deleted (left by killed processes): every mirror
    forgets its worktrees there and their private branches. Every mirror, not the one a
    worktree's `.git` file names: that file was in a sandbox's reach."""
    await cache.prune_worktrees([_worktree_location(path)[1] for path in paths])

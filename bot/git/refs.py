"""What the app writes to the remote: a new scratch branch, and a worktree's commits, pushed
with fetch-rebase-retry. Never forced, and only under the app's own prefix; the remote branch is
the truth, since agents of one run may sit on different machines, each with its own cache.
"""

from __future__ import annotations

from bot.core.decisions import require_own_branch
from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.mirror import MirrorCache
from bot.git.run import GitResult, checked_rev
from bot.git.worktree import Worktree


async def create_branch(cache: MirrorCache, remote: Remote, branch: str, from_ref: str) -> str:
    """Create `branch` on the remote at `from_ref` (a remote branch name or a revision).

    Idempotent: when the branch already exists it is left alone and its head returned, so a
    retried activity does not fail on its own earlier success.
    """
    require_own_branch(branch)
    checked_rev(from_ref)
    async with cache.locked(remote) as mirror:
        await cache.sync_locked(remote, mirror)
        existing = await cache.remote_head(mirror, branch)
        if existing:
            return existing
        start = await cache.remote_head(mirror, from_ref)
        if start is None:
            resolved = await cache.git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{from_ref}^{{commit}}"],
                cwd=mirror,
                check=False,
            )
            start = resolved.stdout.strip()
            if not start:
                raise GitError(f"cannot create {branch}: {from_ref!r} is not a branch or commit")
        pushed = await cache.push_commit(remote, mirror, start, branch)
        await cache.sync_locked(remote, mirror)
        head = await cache.remote_head(mirror, branch)
        if head is None:  # neither our push nor a concurrent creator's
            raise pushed.error(f"creating {branch} failed")
        return head


async def push(cache: MirrorCache, tree: Worktree, max_attempts: int = 5) -> str:
    """Push the worktree's HEAD to its remote branch, rebasing onto that branch when it moved;
    return the new head.

    The push runs in the mirror (which holds this worktree's objects) with the commit's sha, so
    no command in the worktree ever talks to a remote. Raises RebaseConflict (worktree left
    mid-rebase) when a rebase stops on conflicts: the caller has the agent edit the files,
    calls tree.continue_rebase(), then push() again.
    """
    require_own_branch(tree.branch)
    if await tree.rebase_in_progress():
        raise GitError("a rebase is in progress: resolve it and call continue_rebase() first")
    for _ in range(max_attempts):
        head = await tree.head()
        # Under the mirror lock: one command at a time per mirror, fetches included.
        async with cache.locked(tree.remote) as mirror:
            result = await cache.push_commit(tree.remote, mirror, head, tree.branch)
            if result.returncode == 0:
                await cache.git(
                    ["update-ref", f"refs/remotes/origin/{tree.branch}", head], cwd=mirror
                )
                return head
            if not _rejected_as_behind(result):
                raise result.error(f"push to {tree.branch} failed")
            await cache.fetch_branch(tree.remote, mirror, tree.branch)
        await tree.rebase_onto_remote()
    raise GitError(f"push to {tree.branch} still rejected after {max_attempts} attempts")


# A push racing another one on the server: GitHub and local receive-pack word it like these.
_RACE_REASONS = ("failed to update ref", "cannot lock ref", "incorrect old value")


def _rejected_as_behind(result: GitResult) -> bool:
    """True when the push lost to the remote moving on (retry after a rebase), False when the
    server refused it (a hook, a permission): that is not retried."""
    for line in result.stdout.splitlines():
        if not line.startswith("!"):
            continue
        if "\t[rejected]" in line:
            return True
        if "\t[remote rejected]" in line:
            return any(reason in line + result.stderr for reason in _RACE_REASONS)
    return False

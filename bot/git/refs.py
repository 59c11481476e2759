"""What the app writes to the remote: a new scratch branch, a worktree's commits (pushed with
fetch-rebase-retry onto a shared branch, or to a branch of their own with retries), and the
deletion of the app's own branches. Never forced, and only under the app's own prefix; the
remote branch is the truth, since agents of one run may sit on different machines, each with
its own cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot.core.decisions import require_own_branch
from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.mirror import MirrorCache
from bot.git.run import GitResult, checked_rev
from bot.git.worktree import Worktree

PUSH_TRIES = 6  # waits of 1, 2, 4, 8 and 16 s between them
PUSH_FIRST_DELAY_S = 1.0
log = logging.getLogger(__name__)


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


async def push_to_own_branch(
    cache: MirrorCache,
    tree: Worktree,
    branch: str,
    *,
    tries: int = PUSH_TRIES,
    first_delay: float = PUSH_FIRST_DELAY_S,
) -> str:
    """Push the worktree's HEAD to `branch`, a branch nobody else writes (an agent's own):
    created, or moved forward, never forced. A failed push (the network, a 5xx, an answer lost
    after the push was applied: the next try finds the branch already there) is tried again
    with backoff; a refusal (a hook, a branch that moved elsewhere) is not. Returns the sha."""
    require_own_branch(branch)
    head, attempt = await tree.head(), 1
    while True:
        async with cache.locked(tree.remote) as mirror:
            result = await cache.push_commit(tree.remote, mirror, head, branch)
            if result.returncode == 0:
                await cache.git(["update-ref", f"refs/remotes/origin/{branch}", head], cwd=mirror)
                return head
        if _refused(result) or attempt >= tries:
            raise result.error(f"push to {branch} failed")
        log.info("push to %s failed (try %d of %d); trying again", branch, attempt, tries)
        await asyncio.sleep(first_delay * 2 ** (attempt - 1))
        attempt += 1


async def delete_branches(cache: MirrorCache, remote: Remote, branches: Sequence[str]) -> list[str]:
    """Delete the app's own `branches` from the remote, best effort: returns those that are
    gone (deleted now, or already)."""
    gone: list[str] = []
    for branch in branches:
        async with cache.locked(remote) as mirror:
            result = await cache.delete_branch(remote, mirror, branch)
        if result.returncode == 0 or "remote ref does not exist" in result.stderr + result.stdout:
            gone.append(branch)
        else:
            log.warning("could not delete %s: %s", branch, result.error())
    return gone


def _refused(result: GitResult) -> bool:
    """The server refused a ref (a hook, a non-fast-forward): trying again cannot help, unless
    it lost a race with another push."""
    for line in result.stdout.splitlines():
        if line.startswith("!") and not any(r in line + result.stderr for r in _RACE_REASONS):
            return True
    return False


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

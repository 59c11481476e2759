"""git for agents: a per-worker mirror cache, private worktrees on a shared scratch branch,
commits with the agent trailer, and fetch-rebase-retry pushes.

The remote branch is the truth: agents of one run may sit on different machines, each with its
own cache, so every push rebases onto what the remote holds. Nothing here force-pushes, and
nothing pushes outside `orchestrate/`. The Worktree class is in bot/worktree.py; read-only
history helpers (diff, blame, trailer log) are in bot/githistory.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from bot.errors import GitError
from bot.githistory import (
    attribute_range,
    blame_porcelain,
    commit_patches,
    diff_hunks,
    diff_numstat,
    log_with_trailers,
    merge_base,
)
from bot.gitrun import BOT_IDENTITY, DEFAULT_TIMEOUT, GitIdentity, GitResult, run_git
from bot.worktree import BRANCH_PREFIX, Worktree, require_own_branch

__all__ = [
    "BRANCH_PREFIX",
    "MirrorCache",
    "Worktree",
    "attribute_range",
    "blame_porcelain",
    "commit_patches",
    "create_branch",
    "diff_hunks",
    "diff_numstat",
    "log_with_trailers",
    "merge_base",
    "open_worktree",
    "require_own_branch",
]

_LOCK_POLL_SECONDS = 0.02


def _fresh_partial(mirror: Path) -> Path | None:
    """None when the mirror exists; else an empty directory to build it in and rename into
    place, so that a crash never leaves a half clone at `mirror`."""
    if mirror.is_dir():
        return None
    partial = mirror.with_name(mirror.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # a crashed attempt's (we hold the lock)
    partial.mkdir(parents=True)
    return partial


def _worktree_location(path: Path) -> tuple[Path, str]:
    """The absolute path and the private local branch name of a worktree."""
    path = path.absolute()
    return path, "worktree/" + hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _require_rev(rev: str) -> None:
    if not rev or rev.startswith("-"):
        raise GitError(f"invalid revision {rev!r}")


class MirrorCache:
    """Bare clones of remotes under `root`, one per URL, shared by a worker's agents."""

    def __init__(
        self,
        root: Path,
        *,
        identity: GitIdentity = BOT_IDENTITY,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.root = root.absolute()
        self.identity = identity
        self.timeout = timeout
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def home(self) -> Path:
        return self.root / "home"

    @staticmethod
    def key(remote_url: str) -> str:
        return hashlib.sha256(remote_url.encode()).hexdigest()[:32]

    def mirror_path(self, remote_url: str) -> Path:
        return self.root / "mirrors" / f"{self.key(remote_url)}.git"

    async def git(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        check: bool = True,
    ) -> GitResult:
        return await run_git(
            args,
            cwd=cwd,
            home=self.home,
            token=token,
            identity=self.identity,
            timeout=self.timeout,
            env=env,
            input=input,
            check=check,
        )

    @contextlib.asynccontextmanager
    async def locked(self, remote_url: str) -> AsyncIterator[Path]:
        """Hold the mirror of `remote_url`: an asyncio lock for this process, flock for others."""
        key = self.key(remote_url)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            lock_dir = self.root / "locks"
            lock_dir.mkdir(parents=True, exist_ok=True)
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                # Polled rather than blocking in a thread, so a cancelled waiter holds nothing.
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        await asyncio.sleep(_LOCK_POLL_SECONDS)
                yield self.mirror_path(remote_url)
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    async def sync(self, remote_url: str, token: str | None) -> Path:
        """Clone `remote_url` once, fetch (with prune) on every later call; return the mirror."""
        async with self.locked(remote_url) as mirror:
            await self._sync_locked(remote_url, token, mirror)
            return mirror

    async def _sync_locked(self, remote_url: str, token: str | None, mirror: Path) -> None:
        partial = _fresh_partial(mirror)
        if partial is None:
            await self.git(["fetch", "--prune", "--quiet", "origin"], cwd=mirror, token=token)
            return
        await self.git(["init", "--bare", "--quiet"], cwd=partial)
        # Not `clone --mirror`: its refs/*:refs/* refspec would overwrite and prune the private
        # branches worktrees check out. Remote branches live under refs/remotes/origin/.
        await self.git(["remote", "add", "origin", remote_url], cwd=partial)
        await self.git(["fetch", "--prune", "--quiet", "origin"], cwd=partial, token=token)
        partial.rename(mirror)

    async def remote_head(self, mirror: Path, branch: str) -> str | None:
        """The sha of the remote branch as last fetched, or None when it does not exist."""
        result = await self.git(
            ["rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}"],
            cwd=mirror,
            check=False,
        )
        return result.stdout.strip() or None


async def create_branch(
    cache: MirrorCache, remote_url: str, token: str | None, branch: str, from_ref: str
) -> str:
    """Create `branch` on the remote at `from_ref` (a remote branch name or a revision).

    Idempotent: when the branch already exists it is left alone and its head returned, so a
    retried activity does not fail on its own earlier success.
    """
    require_own_branch(branch)
    _require_rev(from_ref)
    async with cache.locked(remote_url) as mirror:
        await cache._sync_locked(remote_url, token, mirror)
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
        pushed = await cache.git(
            ["push", "--porcelain", "origin", f"{start}:refs/heads/{branch}"],
            cwd=mirror,
            token=token,
            check=False,
        )
        await cache._sync_locked(remote_url, token, mirror)
        head = await cache.remote_head(mirror, branch)
        if head is None:  # neither our push nor a concurrent creator's
            raise pushed.error(f"creating {branch} failed")
        return head


async def open_worktree(
    cache: MirrorCache, remote_url: str, token: str | None, branch: str, path: Path
) -> Worktree:
    """A private worktree at `path` on the remote's `branch`, freshly fetched.

    The worktree's local branch has a private name (`worktree/<hash of path>`) tracking
    origin/<branch>: git refuses one branch in two worktrees, and two agents of a run may share
    a worker. Pushes go to the remote `branch` by name.
    """
    path, local = _worktree_location(path)
    async with cache.locked(remote_url) as mirror:
        await cache._sync_locked(remote_url, token, mirror)
        if await cache.remote_head(mirror, branch) is None:
            raise GitError(f"branch {branch!r} does not exist on the remote")
        listed = await cache.git(["worktree", "list", "--porcelain"], cwd=mirror)
        if f"worktree {path}\n" in listed.stdout + "\n":
            # Left by an earlier attempt of the same activity: the remote holds the truth.
            await cache.git(["worktree", "remove", "--force", str(path)], cwd=mirror)
        elif path.exists() and any(path.iterdir()):
            raise GitError(f"worktree path {path} exists and is not empty")
        await cache.git(["worktree", "prune"], cwd=mirror)
        start = f"refs/remotes/origin/{branch}"
        await cache.git(
            ["worktree", "add", "--quiet", "--track", "-B", local, str(path), start], cwd=mirror
        )
    return Worktree(cache, remote_url, token, branch, path, local)

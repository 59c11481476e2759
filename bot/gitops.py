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
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.core.decisions import BRANCH_PREFIX, require_own_branch
from bot.core.remote import Credential, Remote
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
from bot.gitmirror import tampering, write_pristine_config
from bot.gitrun import BOT_IDENTITY, DEFAULT_TIMEOUT, GitIdentity, GitResult, run_git
from bot.gitscrub import delete_tree
from bot.worktree import Worktree

__all__ = [
    "BRANCH_PREFIX",
    "MirrorCache",
    "Remote",
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
# Every remote branch, into refs/remotes/origin/. Not `clone --mirror`: its refs/*:refs/*
# would overwrite and prune the private branches worktrees check out.
_ALL_BRANCHES = "+refs/heads/*:refs/remotes/origin/*"
log = logging.getLogger(__name__)


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
    """Bare mirrors of remotes under `root`, one per (scope, URL): a worker's agents of one
    installation's repository share one; nothing else does.

    Only the app writes a mirror; before every command that carries a token its files are
    checked against what the app wrote (bot/gitmirror.py), and a changed mirror is rebuilt.
    All network commands run here, in the bare mirror, never in a worktree.
    """

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
    def key(remote: Remote) -> str:
        return hashlib.sha256(f"{remote.scope}\0{remote.url}".encode()).hexdigest()[:32]

    def mirror_path(self, remote: Remote) -> Path:
        return self.root / "mirrors" / f"{self.key(remote)}.git"

    async def git(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        credential: Credential | None = None,
        input: str | None = None,
        check: bool = True,
    ) -> GitResult:
        return await run_git(
            args,
            cwd=cwd,
            home=self.home,
            credential=credential,
            identity=self.identity,
            timeout=self.timeout,
            input=input,
            check=check,
        )

    @contextlib.asynccontextmanager
    async def locked(self, remote: Remote) -> AsyncIterator[Path]:
        """Hold the mirror of `remote`: an asyncio lock for this process, flock for others."""
        key = self.key(remote)
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
                yield self.mirror_path(remote)
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    async def sync(self, remote: Remote) -> Path:
        """Clone the remote once, fetch (with prune) on every later call; return the mirror."""
        async with self.locked(remote) as mirror:
            await self.sync_locked(remote, mirror)
            return mirror

    async def sync_locked(self, remote: Remote, mirror: Path) -> None:
        """`sync` for a caller holding the lock. A mirror found changed is rebuilt."""
        if mirror.is_dir() and await self._tampering(mirror):
            self._discard(mirror)
        partial = _fresh_partial(mirror)
        if partial is None:
            await self._fetch(remote, mirror, _ALL_BRANCHES, prune=True)
            return
        await self.git(["init", "--bare", "--quiet"], cwd=partial)
        write_pristine_config(partial)
        await self._fetch(remote, partial, _ALL_BRANCHES, prune=True)
        partial.rename(mirror)

    async def fetch_branch(self, remote: Remote, mirror: Path, branch: str) -> None:
        """Update refs/remotes/origin/<branch> (caller holds the lock)."""
        await self.require_pristine(mirror)
        await self._fetch(remote, mirror, f"+refs/heads/{branch}:refs/remotes/origin/{branch}")

    async def push_commit(self, remote: Remote, mirror: Path, sha: str, branch: str) -> GitResult:
        """Push commit `sha` (in the mirror's object store) to `branch`; the caller holds the
        lock and reads the result. Never forced; the remote branch must be the app's."""
        require_own_branch(branch)
        _require_rev(sha)
        await self.require_pristine(mirror)
        refspec = f"{sha}:refs/heads/{branch}"
        return await self.git(
            ["push", "--porcelain", "--no-recurse-submodules", "--", remote.url, refspec],
            cwd=mirror,
            credential=remote.credential,
            check=False,
        )

    async def require_pristine(self, mirror: Path) -> None:
        """Raise GitError (after discarding the mirror) when its files are not the app's."""
        reasons = await self._tampering(mirror)
        if reasons:
            self._discard(mirror)
            changes = "; ".join(reasons)
            raise GitError(
                f"the mirror cache was changed outside the app and was discarded: {changes}"
            )

    async def remote_head(self, mirror: Path, branch: str) -> str | None:
        """The sha of the remote branch as last fetched, or None when it does not exist."""
        result = await self.git(
            ["rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}"],
            cwd=mirror,
            check=False,
        )
        return result.stdout.strip() or None

    async def _fetch(self, remote: Remote, mirror: Path, refspec: str, prune: bool = False) -> None:
        # The URL on the command line, not a configured remote: nothing in any config file
        # chooses where the token goes.
        args = ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head"]
        args += ["--prune"] if prune else []
        await self.git([*args, "--", remote.url, refspec], cwd=mirror, credential=remote.credential)

    async def _tampering(self, mirror: Path) -> list[str]:
        config, listed = mirror / "config", ""
        if config.is_file() and not config.is_symlink():  # never read a FIFO or a device
            args = ["config", "--file", str(config), "--list"]
            listed = (await self.git(args, cwd=self.root, check=False)).stdout
        reasons = tampering(mirror, listed)
        if reasons:
            log.warning("mirror %s was changed outside the app: %s", mirror, "; ".join(reasons))
        return reasons

    def _discard(self, mirror: Path) -> None:
        # Renamed first, so that no later command finds a half-deleted mirror at its path.
        stale = mirror.with_name(f"{mirror.name}.stale-{uuid.uuid4().hex}")
        with contextlib.suppress(FileNotFoundError):  # another worker discarded it first
            mirror.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)


async def create_branch(cache: MirrorCache, remote: Remote, branch: str, from_ref: str) -> str:
    """Create `branch` on the remote at `from_ref` (a remote branch name or a revision).

    Idempotent: when the branch already exists it is left alone and its head returned, so a
    retried activity does not fail on its own earlier success.
    """
    require_own_branch(branch)
    _require_rev(from_ref)
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


async def open_worktree(cache: MirrorCache, remote: Remote, branch: str, path: Path) -> Worktree:
    """A private worktree at `path` on the remote's `branch`, freshly fetched.

    The worktree's local branch has a private name (`worktree/<hash of path>`) at
    origin/<branch>: git refuses one branch in two worktrees, and two agents of a run may share
    a worker. Pushes go to the remote `branch` by name, from the mirror.
    """
    path, local = _worktree_location(path)
    async with cache.locked(remote) as mirror:
        await cache.sync_locked(remote, mirror)
        if await cache.remote_head(mirror, branch) is None:
            raise GitError(f"branch {branch!r} does not exist on the remote")
        listed = await cache.git(["worktree", "list", "--porcelain"], cwd=mirror)
        if f"worktree {path}\n" in listed.stdout + "\n":
            # Left by an earlier attempt of the same activity: the remote holds the truth. Its
            # files may be a sandbox's: deleted without letting git look at them.
            await asyncio.to_thread(delete_tree, path)
        elif path.exists() and any(path.iterdir()):
            raise GitError(f"worktree path {path} exists and is not empty")
        await cache.git(["worktree", "prune"], cwd=mirror)
        start = f"refs/remotes/origin/{branch}"
        await cache.git(
            ["worktree", "add", "--quiet", "--no-track", "-B", local, str(path), start],
            cwd=mirror,
        )
    return Worktree(cache, remote, branch, path, local)

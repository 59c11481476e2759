"""The per-worker mirror cache: bare mirrors of remotes, one per (scope, URL), in which every
network command runs; and the check that a mirror's own files are still the app's.

A mirror's config is exactly what the app wrote, and nothing that redirects git elsewhere
(alternates, a common dir, per-worktree config) exists. A mirror whose files differ may have
been changed by something that escaped a sandbox; it may redirect a push (`pushurl`,
`insteadOf`), proxy it, or run a command (fsmonitor, an alias target, an include). The cache
checks before every command that carries a token and rebuilds such a mirror from scratch rather
than trusting any of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.core.decisions import require_own_branch
from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.env import BOT_IDENTITY, GitIdentity
from bot.git.run import DEFAULT_TIMEOUT, GitResult, GitRunner, checked_rev
from bot.sandbox.trees import delete_tree

_LOCK_POLL_SECONDS = 0.02
# Every remote branch, into refs/remotes/origin/. Not `clone --mirror`: its refs/*:refs/*
# would overwrite and prune the private branches worktrees check out.
_ALL_BRANCHES = "+refs/heads/*:refs/remotes/origin/*"
log = logging.getLogger(__name__)


# The whole config of a mirror. Remotes are not configured at all: fetch and push name the URL
# and refspecs on the command line, so no remote.* setting could redirect them.
MIRROR_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
MIRROR_CONFIG_LIST = ("core.repositoryformatversion=0", "core.filemode=true", "core.bare=true")

# Files git reads from a repository that would make it use another repository's objects or
# config, or apply attributes to every worktree.
_FORBIDDEN = (
    "config.worktree",
    "commondir",
    "gitdir",
    "info/attributes",
    "objects/info/alternates",
    "objects/info/http-alternates",
)
_FORBIDDEN_PER_WORKTREE = ("config", "config.worktree")


def write_pristine_config(mirror: Path) -> None:
    """Replace what `git init` wrote by the app's own, exact config."""
    (mirror / "config").write_text(MIRROR_CONFIG)


def tampering(mirror: Path, config_list: str) -> list[str]:
    """Why the mirror cannot be trusted (empty when it can). `config_list` is the output of
    `git config --file <mirror>/config --list`, which does not follow includes."""
    reasons = []
    config = mirror / "config"
    if config.is_symlink() or not config.is_file():
        reasons.append("config is not a regular file")
    elif tuple(config_list.splitlines()) != MIRROR_CONFIG_LIST:
        reasons.append("config differs from what the app wrote")
    reasons += [f"{name} exists" for name in _FORBIDDEN if _lexists(mirror / name)]
    worktrees = mirror / "worktrees"
    if worktrees.is_symlink():
        reasons.append("worktrees is a symbolic link")
    elif worktrees.is_dir():
        for admin in sorted(worktrees.iterdir()):
            reasons += _worktree_tampering(admin)
    return reasons


def _worktree_tampering(admin: Path) -> list[str]:
    where = f"worktrees/{admin.name}"
    if admin.is_symlink() or not admin.is_dir():
        return [f"{where} is not a directory"]
    reasons = [
        f"{where}/{name} exists" for name in _FORBIDDEN_PER_WORKTREE if _lexists(admin / name)
    ]
    commondir = admin / "commondir"
    try:
        points_home = not commondir.is_symlink() and commondir.read_text().strip() == "../.."
    except OSError:
        points_home = False
    if not points_home:
        reasons.append(f"{where}/commondir does not point at the mirror")
    return reasons


def _lexists(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _fresh_partial(mirror: Path) -> Path | None:
    """None when the mirror exists; else an empty directory to build it in and rename into
    place, so that a crash never leaves a half clone at `mirror`."""
    if mirror.is_dir():
        return None
    partial = mirror.with_name(mirror.name + ".partial")
    with contextlib.suppress(OSError):  # a crashed attempt's (we hold the lock)
        delete_tree(partial)
    partial.mkdir(parents=True)
    return partial


class MirrorCache:
    """Bare mirrors of remotes under `root`, one per (scope, URL): a worker's agents of one
    installation's repository share one; nothing else does.

    Only the app writes a mirror; before every command that carries a token its files are
    checked against what the app wrote (below), and a changed mirror is rebuilt.
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
        self.git = GitRunner(home=self.home, identity=identity, timeout=timeout)
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def home(self) -> Path:
        return self.root / "home"

    @staticmethod
    def key(remote: Remote) -> str:
        return hashlib.sha256(f"{remote.scope}\0{remote.url}".encode()).hexdigest()[:32]

    def mirror_path(self, remote: Remote) -> Path:
        return self.root / "mirrors" / f"{self.key(remote)}.git"

    @contextlib.asynccontextmanager
    async def locked(self, remote: Remote) -> AsyncIterator[Path]:
        """Hold the mirror of `remote`: an asyncio lock for this process, flock for others."""
        async with self._locked(self.key(remote)) as mirror:
            yield mirror

    async def prune_worktrees(self, branches: Sequence[str] = ()) -> None:
        """In every mirror: forget the worktrees whose directories are gone and delete the
        local `branches` (those of the worktrees deleted; git keeps any still checked out)."""
        for found in sorted(self.root.glob("mirrors/*.git")):
            async with self._locked(found.name.removesuffix(".git")) as mirror:
                if not mirror.is_dir() or mirror.is_symlink():
                    continue
                await self.git(["worktree", "prune"], cwd=mirror, check=False)
                if branches:
                    await self.git(["branch", "-D", "--", *branches], cwd=mirror, check=False)

    @contextlib.asynccontextmanager
    async def _locked(self, key: str) -> AsyncIterator[Path]:
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
                yield self.root / "mirrors" / f"{key}.git"
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
        checked_rev(sha)
        await self.require_pristine(mirror)
        refspec = f"{sha}:refs/heads/{branch}"
        return await self.git(
            ["push", "--porcelain", "--no-recurse-submodules", "--", remote.url, refspec],
            cwd=mirror,
            credential=remote.credential,
            check=False,
        )

    async def delete_branch(self, remote: Remote, mirror: Path, branch: str) -> GitResult:
        """Delete the remote `branch` (one of the app's); the caller holds the lock and reads
        the result."""
        require_own_branch(branch)
        await self.require_pristine(mirror)
        return await self.git(
            ["push", "--porcelain", "--", remote.url, f":refs/heads/{branch}"],
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
        with contextlib.suppress(OSError):
            delete_tree(stale)

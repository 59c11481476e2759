"""One agent's private worktree of the scratch branch: commit with the agent trailer, push with
fetch-rebase-retry, hand rebase conflicts back to the caller. Created by gitops.open_worktree.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import GitError, RebaseConflict
from bot.gitparse import AGENT_TRAILER
from bot.gitrun import GitResult

if TYPE_CHECKING:
    from bot.gitops import MirrorCache

BRANCH_PREFIX = "orchestrate/"
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_FORGED_TRAILER = re.compile(rf"^[ \t]*{AGENT_TRAILER}[ \t]*:.*$\n?", re.IGNORECASE | re.MULTILINE)
_MARKER = re.compile(r"^(.*):\d+: leftover conflict marker$")


def require_own_branch(branch: str) -> None:
    """The app writes only under its own prefix (DESIGN.md, security model)."""
    if not branch.startswith(BRANCH_PREFIX) or ".." in branch or branch.endswith((".lock", "/")):
        raise GitError(f"refusing to write branch {branch!r}: only {BRANCH_PREFIX}* is allowed")


class Worktree:
    """One agent's checkout of the scratch branch. The token stays in memory only."""

    def __init__(
        self,
        cache: MirrorCache,
        remote_url: str,
        token: str | None,
        branch: str,
        path: Path,
        local_branch: str,
    ) -> None:
        self.cache = cache
        self.remote_url = remote_url
        self.branch = branch
        self.path = path
        self.local_branch = local_branch
        self._token = token

    def __repr__(self) -> str:
        return f"Worktree(path={str(self.path)!r}, branch={self.branch!r})"

    def set_token(self, token: str | None) -> None:
        """Swap in a fresh installation token (they expire after an hour)."""
        self._token = token

    async def _git(
        self,
        *args: str,
        auth: bool = False,
        check: bool = True,
        input: str | None = None,
    ) -> GitResult:
        token = self._token if auth else None  # only fetch and push see the token
        return await self.cache.git(args, cwd=self.path, token=token, input=input, check=check)

    async def head(self) -> str:
        return (await self._git("rev-parse", "HEAD")).stdout.strip()

    async def changed_files(self) -> list[str]:
        """Paths with uncommitted changes (staged, unstaged or untracked), sorted."""
        out = (await self._git("status", "--porcelain=v1", "-z", "--untracked-files=all")).stdout
        entries, paths = out.split("\0"), set()
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if len(entry) < 4:
                continue
            paths.add(entry[3:])
            if entry[0] in "RC":  # a rename is followed by its old name
                paths.add(entries[index])
                index += 1
        return sorted(paths)

    async def discard(self, paths: list[str]) -> None:
        """Drop uncommitted changes to `paths`: tracked files go back to HEAD, new ones go."""
        if not paths:
            return
        await self._git("reset", "--quiet", "--", *paths)
        tracked = (await self._git("ls-files", "-z", "--", *paths)).stdout.split("\0")
        tracked = [path for path in tracked if path]
        if tracked:
            await self._git("checkout", "--", *tracked)
        await self._git("clean", "-fdq", "--", *paths)

    async def commit_all(self, message: str, role: str) -> str | None:
        """Stage everything and commit as `role`; return the sha, or None when nothing changed."""
        if not _ROLE.fullmatch(role):
            raise GitError(f"invalid agent role {role!r}")
        await self._git("add", "-A")
        staged = await self._git("diff", "--cached", "--quiet", check=False)
        if staged.returncode == 0:
            return None
        if staged.returncode != 1:
            raise staged.error()
        # The message may be model output: a forged trailer must not misattribute the commit.
        text = _FORGED_TRAILER.sub("", message).strip() or f"{role}: update"
        await self._git(
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=whitespace",
            "--file=-",
            f"--trailer={AGENT_TRAILER}: {role}",
            input=text + "\n",
        )
        return await self.head()

    async def push(self, max_attempts: int = 5) -> str:
        """Push HEAD to the remote branch, rebasing onto it when it moved; return the new head.

        Raises RebaseConflict (worktree left mid-rebase) when a rebase stops on conflicts:
        the caller has the agent edit the files, calls continue_rebase(), then push() again.
        """
        require_own_branch(self.branch)
        if await self.rebase_in_progress():
            raise GitError("a rebase is in progress: resolve it and call continue_rebase() first")
        for _ in range(max_attempts):
            # Under the mirror lock: push updates origin/<branch> in the mirror, which a
            # concurrent fetch of another worktree would fail to lock.
            async with self.cache.locked(self.remote_url):
                result = await self._git(
                    "push",
                    "--porcelain",
                    "origin",
                    f"HEAD:refs/heads/{self.branch}",
                    auth=True,
                    check=False,
                )
            if result.returncode == 0:
                return await self.head()
            if not _rejected_as_behind(result):
                raise result.error(f"push to {self.branch} failed")
            await self._fetch()
            await self._rebase_onto_remote()
        raise GitError(f"push to {self.branch} still rejected after {max_attempts} attempts")

    async def _fetch(self) -> None:
        async with self.cache.locked(self.remote_url):  # fetch writes refs the mirror shares
            await self._git(
                "fetch",
                "--quiet",
                "origin",
                f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
                auth=True,
            )

    async def _rebase_onto_remote(self) -> None:
        result = await self._git("rebase", f"refs/remotes/origin/{self.branch}", check=False)
        if result.returncode != 0:
            await self._raise_if_conflicted(f"rebase onto origin/{self.branch}")
            raise result.error()

    async def _raise_if_conflicted(self, what: str) -> None:
        out = await self._git("diff", "--name-only", "--diff-filter=U", "-z")
        files = sorted({name for name in out.stdout.split("\0") if name})
        if files:
            raise RebaseConflict(f"{what} stopped on conflicts in: {', '.join(files)}", files)

    async def rebase_in_progress(self) -> bool:
        for name in ("rebase-merge", "rebase-apply"):
            where = (await self._git("rev-parse", "--git-path", name)).stdout.strip()
            if (self.path / where).exists():
                return True
        return False

    async def continue_rebase(self) -> None:
        """After the conflicted files were edited: stage all and continue the rebase.

        Raises RebaseConflict again when conflict markers are still staged, or when a later
        commit of the rebase conflicts in turn.
        """
        if not await self.rebase_in_progress():
            raise GitError("no rebase in progress")
        await self._git("add", "-A")
        check = await self._git("diff", "--cached", "--check", check=False)
        leftovers = sorted(
            {m.group(1) for line in check.stdout.splitlines() if (m := _MARKER.match(line))}
        )
        if leftovers:
            raise RebaseConflict(f"conflict markers remain in: {', '.join(leftovers)}", leftovers)
        result = await self._git("rebase", "--continue", check=False)
        if result.returncode != 0:
            await self._raise_if_conflicted("rebase --continue")
            raise result.error()

    async def abort_rebase(self) -> None:
        """Return to the state before the rebase (a no-op when none is in progress)."""
        if await self.rebase_in_progress():
            await self._git("rebase", "--abort")

    async def remove(self) -> None:
        """Delete the worktree, its private branch and the mirror's record of it."""
        async with self.cache.locked(self.remote_url) as mirror:
            await self.cache.git(
                ["worktree", "remove", "--force", "--force", str(self.path)],
                cwd=mirror,
                check=False,
            )
            shutil.rmtree(self.path, ignore_errors=True)
            await self.cache.git(["worktree", "prune"], cwd=mirror)
            await self.cache.git(["branch", "-D", self.local_branch], cwd=mirror, check=False)


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

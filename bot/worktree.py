"""One agent's private worktree of the scratch branch: commit with the agent trailer, push with
fetch-rebase-retry, hand rebase conflicts back to the caller. Created by gitops.open_worktree.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import GitError, RebaseConflict
from bot.gitparse import AGENT_TRAILER
from bot.gitremote import Remote
from bot.gitrun import GitResult
from bot.gitscrub import delete_tree, remove_nested_repos

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
    """One agent's checkout of the scratch branch. The token stays in memory only.

    What a sandboxed command wrote here is untrusted: before every git command in the worktree,
    nested `.git` entries are removed (bot/gitscrub.py) and the worktree's own `.git` file must
    still point at its mirror. Commands here never carry the token; fetch and push run in the
    mirror (MirrorCache.fetch_branch, push_commit).
    """

    def __init__(
        self,
        cache: MirrorCache,
        remote: Remote,
        branch: str,
        path: Path,
        local_branch: str,
    ) -> None:
        self.cache = cache
        self.remote = remote
        self.branch = branch
        self.path = path
        self.local_branch = local_branch
        # What `git worktree add` wrote: `gitdir: <mirror>/worktrees/<name>`.
        self._git_file = _read_git_file(path)
        if not self._git_file.startswith(f"gitdir: {cache.mirror_path(remote)}/worktrees/"):
            raise GitError(f"{path} is not a worktree of the app's mirror")

    def __repr__(self) -> str:
        return f"Worktree(path={str(self.path)!r}, branch={self.branch!r})"

    def set_token(self, token: str | None) -> None:
        """Swap in a fresh installation token (they expire after an hour)."""
        self.remote = self.remote.with_token(token)

    async def remove_nested_repos(self) -> list[str]:
        """Delete every nested `.git` entry (a sandboxed command's repository or submodule
        git dir); return their paths. Call after sandboxed code ran, before host git acts."""
        return await asyncio.to_thread(remove_nested_repos, self.path)

    async def _git(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
    ) -> GitResult:
        await self.remove_nested_repos()
        self._require_own_git_dir()
        return await self.cache.git(args, cwd=self.path, input=input, check=check)

    def _require_own_git_dir(self) -> None:
        # The sandbox binds `.git` read-only; checked anyway, since a `.git` pointing elsewhere
        # would hand every later command a config the app did not write.
        if _read_git_file(self.path) != self._git_file:
            raise GitError(f"{self.path}/.git no longer points at the app's mirror")

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

        The push runs in the mirror (which holds this worktree's objects) with the commit's
        sha, so no command in the worktree ever talks to a remote.
        Raises RebaseConflict (worktree left mid-rebase) when a rebase stops on conflicts:
        the caller has the agent edit the files, calls continue_rebase(), then push() again.
        """
        require_own_branch(self.branch)
        if await self.rebase_in_progress():
            raise GitError("a rebase is in progress: resolve it and call continue_rebase() first")
        for _ in range(max_attempts):
            head = await self.head()
            # Under the mirror lock: one command at a time per mirror, fetches included.
            async with self.cache.locked(self.remote) as mirror:
                result = await self.cache.push_commit(self.remote, mirror, head, self.branch)
                if result.returncode == 0:
                    await self.cache.git(
                        ["update-ref", f"refs/remotes/origin/{self.branch}", head], cwd=mirror
                    )
                    return head
                if not _rejected_as_behind(result):
                    raise result.error(f"push to {self.branch} failed")
                await self.cache.fetch_branch(self.remote, mirror, self.branch)
            await self._rebase_onto_remote()
        raise GitError(f"push to {self.branch} still rejected after {max_attempts} attempts")

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
        """Delete the worktree, its private branch and the mirror's record of it.

        The files go first, by plain deletion: git never looks at what a sandbox left there.
        """
        await asyncio.to_thread(delete_tree, self.path)
        async with self.cache.locked(self.remote) as mirror:
            if not mirror.is_dir():  # discarded as tampered: nothing left to tidy
                return
            await self.cache.git(["worktree", "prune"], cwd=mirror)
            await self.cache.git(["branch", "-D", self.local_branch], cwd=mirror, check=False)


def _read_git_file(path: Path) -> str:
    dot_git = path / ".git"
    try:
        return "" if dot_git.is_symlink() else dot_git.read_text()
    except OSError:
        return ""


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

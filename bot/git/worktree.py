"""One agent's private worktree of the scratch branch (opened and removed by git/checkout.py):
commit with the agent trailer (only what the write policy accepts), rebase,
and hand rebase conflicts back to the caller. Everything here is local git; what reaches the
remote (push) is in git/refs.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path

from bot.core.commit_policy import IN_GIT, Refusal, WritePolicy, screen, size_refusals
from bot.core.remote import Remote
from bot.errors import FileRefused, GitError, RebaseConflict
from bot.git import scrub
from bot.git.parse import AGENT_TRAILER, TASK_TRAILER
from bot.git.run import GitResult, GitRunner
from bot.git.staging import chunks, remove_entries, staged_entries
from bot.sandbox.files import read_regular

_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_FORGED_TRAILER = re.compile(
    rf"^[ \t]*(?:{AGENT_TRAILER}|{TASK_TRAILER})[ \t]*:.*$\n?", re.IGNORECASE | re.MULTILINE
)
_TASK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,199}")
_FLOOR = WritePolicy(denied_globs=())
_SCREEN_ROUNDS = 5
_MARKER = re.compile(r"^(.*):\d+: leftover conflict marker$")
_MAX_GIT_FILE_BYTES = 4096  # `gitdir: <path>`


class Worktree:
    """One agent's checkout of the scratch branch, at `path` in the mirror `mirror` of `remote`.

    What a sandboxed command wrote here is untrusted: before every git command in the worktree,
    nested `.git` entries are removed (git/scrub.py) and the worktree's own `.git` file must
    still point at its mirror. Commands here never carry a token: fetch and push run in the
    mirror (git/refs.py).
    """

    def __init__(
        self,
        git: GitRunner,
        remote: Remote,
        branch: str,
        path: Path,
        local_branch: str,
        mirror: Path,
    ) -> None:
        self.git = git
        self.remote = remote
        self.branch = branch
        self.path = path
        self.local_branch = local_branch
        # What `git worktree add` wrote: `gitdir: <mirror>/worktrees/<name>`.
        self._git_file = _read_git_file(path)
        if not self._git_file.startswith(f"gitdir: {mirror}/worktrees/"):
            raise GitError(f"{path} is not a worktree of the app's mirror")

    def __repr__(self) -> str:
        return f"Worktree(path={str(self.path)!r}, branch={self.branch!r})"

    async def remove_nested_repos(self) -> list[str]:
        """Delete every nested `.git` entry (a sandboxed command's repository or submodule
        git dir); return their paths. Call after sandboxed code ran, before host git acts."""
        return await asyncio.to_thread(scrub.remove_nested_repos, self.path)

    async def _git(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
    ) -> GitResult:
        await self.remove_nested_repos()
        self._require_own_git_dir()
        return await self.git(args, cwd=self.path, input=input, check=check)

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
        """Drop uncommitted changes to exactly these paths (never read as patterns): the index
        goes back to HEAD for them, whatever stands at them in the worktree is removed (a
        symlink itself, never what it points to), and the tracked ones are checked out again."""
        if not paths:
            return
        for chunk in chunks(paths):
            await self._git("--literal-pathspecs", "reset", "--quiet", "--", *chunk)
        await asyncio.to_thread(remove_entries, self.path, paths)
        tracked: list[str] = []
        for chunk in chunks(paths):
            out = await self._git("--literal-pathspecs", "ls-files", "-z", "--", *chunk)
            tracked += [path for path in out.stdout.split("\0") if path]
        for chunk in chunks(tracked):
            await self._git("--literal-pathspecs", "checkout", "--quiet", "--", *chunk)

    async def commit_all(
        self, message: str, role: str, policy: WritePolicy | None = None
    ) -> str | None:
        """Stage what `policy` accepts and commit it as `role`; return the sha, or None when
        nothing is left to commit. Without a policy the floor applies: no gitlinks, nothing
        in `.git`, no symlink out of the worktree, no oversized file (no path globs)."""
        await self.stage_screened(policy or _FLOOR)
        return await self.commit_staged(message, role)

    async def rebase_onto_remote(self) -> None:
        """Rebase onto the remote branch as last fetched; RebaseConflict when it stops."""
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

    # ---- the write policy on what is committed (core/commit_policy.py) ----------------------

    async def stage_screened(self, policy: WritePolicy) -> list[Refusal]:
        """Stage every change, then unstage and remove what `policy` refuses; return those.

        What is screened is what would be committed: the staged entries with their modes,
        sizes and link targets. Nested `.git` entries go first (so a nested repository is
        staged as files, never as a gitlink); files past the size limits go before staging (so
        no more than the commit may hold is ever hashed into the shared object store); names
        git refuses to stage are removed. Fails closed:
        refused entries still staged after a few rounds are a GitError, never a commit.
        """
        nested = await self.remove_nested_repos()
        refused = [Refusal(path=path, reason=IN_GIT) for path in nested]
        refused += await self._drop_past_size_limits(policy)
        refused += await self._stage_all()
        for _ in range(_SCREEN_ROUNDS):
            entries, symlinks = await staged_entries(self._git)
            found = screen(entries, policy, symlinks)
            if not found:
                return sorted(refused, key=lambda r: r.path)
            # Restoring a refused entry can change what another one resolves to (a link
            # through a refused link): screen again until nothing more is refused.
            await self.discard([r.path for r in found])
            refused += found
        raise GitError(f"refused changes are still staged after {_SCREEN_ROUNDS} rounds")

    async def commit_staged(self, message: str, role: str, task: str | None = None) -> str | None:
        """Commit the index as `role` (and, with `task`, as that task: the Orchestrate-Task
        trailer); return the sha, or None when nothing is staged."""
        if not _ROLE.fullmatch(role):
            raise GitError(f"invalid agent role {role!r}")
        if task is not None and not _TASK.fullmatch(task):
            raise GitError(f"invalid task key {task!r}")
        staged = await self._git("diff", "--cached", "--quiet", check=False)
        if staged.returncode == 0:
            return None
        if staged.returncode != 1:
            raise staged.error()
        # The message may be model output: a forged trailer must not misattribute the commit
        # nor pass it off as another task's (a retry would take it for its own work).
        text = _FORGED_TRAILER.sub("", message).strip() or f"{role}: update"
        trailers = [f"--trailer={AGENT_TRAILER}: {role}"]
        trailers += [f"--trailer={TASK_TRAILER}: {task}"] if task is not None else []
        await self._git(
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=whitespace",
            "--file=-",
            *trailers,
            input=text + "\n",
        )
        return await self.head()

    async def _drop_past_size_limits(self, policy: WritePolicy) -> list[Refusal]:
        sizes = await asyncio.to_thread(_entry_sizes, self.path, await self.changed_files())
        refused = size_refusals(sizes, policy)
        await self.discard([refusal.path for refusal in refused])
        return refused

    async def _stage_all(self) -> list[Refusal]:
        """`git add -A`, past the names git refuses to index (removed and returned)."""
        added = await self._git("add", "-A", "--ignore-errors", check=False)
        if added.returncode not in (0, 1):
            raise added.error()
        left = await self._git("ls-files", "-z", "--others", "--exclude-standard")
        unstaged = sorted(path for path in left.stdout.split("\0") if path)
        await asyncio.to_thread(remove_entries, self.path, unstaged)
        return [Refusal(path=path, reason="git refuses this name") for path in unstaged]


def _read_git_file(path: Path) -> str:
    # Read as any file a sandbox may have touched: never a link, a FIFO or a huge file.
    try:
        return read_regular(path, ".git", _MAX_GIT_FILE_BYTES).decode("utf-8", "replace")
    except (OSError, FileRefused):
        return ""


def _entry_sizes(root: Path, paths: list[str]) -> list[tuple[str, int]]:
    """(path, size) of the regular files and symlinks among `paths` (a link's size is its
    target's length; never followed)."""
    sizes = []
    for path in paths:
        try:
            info = os.lstat(root / path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
            sizes.append((path, info.st_size))
    return sizes

"""Read-only history commands for attribution: diff, blame, trailer log, per-commit patches
(activities/repo.py feeds their parsed output to core/attribution.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.git.parse import AGENT_TRAILER, TASK_TRAILER, TaskCommit, parse_task_log
from bot.git.run import DEFAULT_TIMEOUT, checked_rev, run_git

# Plain patches whatever the repository says: no external diff drivers, no textconv filters.
_PATCH_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M", "-U0")


def _revs(base: str, separator: str, head: str) -> str:
    return f"{checked_rev(base)}{separator}{checked_rev(head)}"


async def _git(repo: Path, args: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> str:
    return (await run_git(args, cwd=repo, timeout=timeout)).stdout


async def merge_base(repo: Path, base: str, head: str) -> str:
    return (await _git(repo, ["merge-base", checked_rev(base), checked_rev(head)])).strip()


async def diff_hunks(repo: Path, base: str, head: str) -> str:
    """Raw `git diff -U0 base...head`: what head's side changed since the merge base."""
    return await _git(repo, ["diff", *_PATCH_OPTIONS, _revs(base, "...", head), "--"])


async def diff_numstat(repo: Path, base: str, head: str) -> str:
    """Raw `git diff --numstat base...head` (binary files count "-")."""
    return await _git(repo, ["diff", "--numstat", "-M", _revs(base, "...", head), "--"])


async def blame_porcelain(
    repo: Path, rev: str, path: str, ranges: Sequence[tuple[int, int]] = ()
) -> str:
    """`git blame --line-porcelain rev -- path`, limited to inclusive line ranges if given.

    `rev` may be a range `A..B`: lines older than A are then reported at the boundary.
    """
    limits = [f"-L{start},{end}" for start, end in ranges]
    return await _git(repo, ["blame", "--line-porcelain", *limits, checked_rev(rev), "--", path])


async def log_with_trailers(repo: Path, base: str, head: str) -> str:
    """Commits of base..head, oldest first, as `sha FIELD_SEP agent-trailer-values RECORD_SEP`."""
    trailer = f"%(trailers:key={AGENT_TRAILER},valueonly,separator=%x2C)"
    fmt = f"--format=%H%x1f{trailer}%x1e"  # %x1f, %x1e: parse.FIELD_SEP, RECORD_SEP
    return await _git(repo, ["log", "--reverse", fmt, _revs(base, "..", head), "--"])


async def commit_patches(repo: Path, base: str, head: str) -> str:
    """Each first-parent commit of base..head, oldest first: RECORD_SEP, sha, its -U0 patch.

    Attribution follows base lines through these patches to find the commit removing each.
    """
    return await _git(
        repo,
        [
            "log",
            "--reverse",
            "--first-parent",
            "--diff-merges=first-parent",
            "-p",
            *_PATCH_OPTIONS,
            "--format=%x1e%H",
            _revs(base, "..", head),
            "--",
        ],
    )


async def find_task_commit(
    repo: Path, task: str, revs: Sequence[str], limit: int = 500
) -> TaskCommit | None:
    """The newest commit reachable from `revs` (at most `limit` deep) whose Orchestrate-Task
    trailer is `task`, or None. `revs` must exist."""
    if not revs:
        return None
    trailer = f"%(trailers:key={TASK_TRAILER},valueonly,separator=%x2C)"
    fmt = f"--format=%H%x1f{trailer}%x1f%s%x1f%b%x1e"
    args = ["log", f"--max-count={limit}", fmt, *(checked_rev(rev) for rev in revs), "--"]
    for commit in parse_task_log(await _git(repo, args)):
        if task in commit.tasks:
            return commit
    return None

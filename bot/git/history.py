"""Read-only history commands for attribution: diff, blame, trailer log, per-commit patches
(and, until it moves to the activities, `attribute_range`, which feeds them to
core/attribution.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bot.core.attribution import Attribution, attribute
from bot.git.parse import (
    AGENT_TRAILER,
    parse_agent_log,
    parse_blame_porcelain,
    parse_commit_patches,
    parse_diff,
)
from bot.git.run import DEFAULT_TIMEOUT, checked_rev, run_git

_BLAME_CONCURRENCY = 8
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


async def attribute_range(repo: Path, base: str, head: str) -> Attribution:
    """Attribute every hunk of `git diff base...head` in `repo` to agents (see attribution.py)."""
    start = await merge_base(repo, base, head)
    diff_text, trailers, patches = await asyncio.gather(
        diff_hunks(repo, start, head),
        log_with_trailers(repo, start, head),
        commit_patches(repo, start, head),
    )
    wanted: dict[str, list[tuple[int, int]]] = {}
    files = parse_diff(diff_text)
    for file in files:
        # A gitlink has no lines at head (`git blame` fails on it): attribution.py gives it
        # a whole-file row, as it does binary files.
        if file.new_path is not None and not file.binary and not file.submodule:
            ranges = [(h.new_start, h.new_start + h.new_count - 1) for h in file.hunks]
            ranges = [r for r in ranges if r[1] >= r[0]]
            if ranges:
                wanted[file.new_path] = ranges

    gate = asyncio.Semaphore(_BLAME_CONCURRENCY)

    async def blame(path: str, ranges: list[tuple[int, int]]) -> tuple[str, str]:
        async with gate:
            # The range stops blame at the merge base: older lines are not this run's work.
            return path, await blame_porcelain(repo, f"{start}..{head}", path, ranges)

    blames = dict(await asyncio.gather(*(blame(p, r) for p, r in wanted.items())))
    return attribute(
        files,
        {path: parse_blame_porcelain(text) for path, text in blames.items()},
        parse_commit_patches(patches),
        parse_agent_log(trailers),
    )

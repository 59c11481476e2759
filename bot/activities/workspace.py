"""Where the agent and test activities work: a directory per run, activity and attempt, and a
private worktree of the scratch branch there, removed afterwards whatever happened.

Each such directory is held (bot/sandbox/held_dirs.py) while in use: what a killed process
left is deleted by the sweep at the worker's start and before every new one, and the mirrors
forget its worktree."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio import activity

from bot.core.remote import Remote
from bot.git.checkout import forget_worktrees, open_worktree, remove_worktree
from bot.git.mirror import MirrorCache
from bot.git.worktree import Worktree
from bot.sandbox.held_dirs import held_dir, sweep_abandoned, sweep_abandoned_below
from bot.sandbox.trees import delete_tree

log = logging.getLogger(__name__)


def workdir(root: Path, run_id: str, name: str) -> Path:
    """A fresh directory per attempt: a retried attempt never finds the last one's files."""
    return root / run_id / f"{name}-a{activity.info().attempt}"


@contextlib.asynccontextmanager
async def checked_out(
    cache: MirrorCache, remote: Remote, branch: str, path: Path, start: str | None = None
) -> AsyncIterator[Worktree]:
    """A worktree of `branch` (at the remote branch `start`, when given: to rebase it), at
    `path` (a `workdir` of the work root)."""
    await sweep_abandoned_work(cache, path.parent.parent)
    async with held_dir(path):
        tree = await open_worktree(cache, remote, branch, path, start=start)
        try:
            yield tree
        finally:
            await _tidy_up(cache, tree, path)


async def sweep_abandoned_work(cache: MirrorCache, root: Path, *, per_run: bool = True) -> None:
    """Delete the held directories under `root` (`per_run`: in each of its directories, one
    per run) that no live process holds any more, and the mirrors' records of them."""
    sweep = sweep_abandoned_below if per_run else sweep_abandoned
    swept = await asyncio.to_thread(sweep, root)
    if swept:
        log.info("deleted %d work directories left by killed processes", len(swept))
        await forget_worktrees(cache, swept)


async def _tidy_up(cache: MirrorCache, tree: Worktree, path: Path) -> None:
    """Remove the worktree. A failed tidy-up fails no work, whatever it raises (the files are a
    sandbox's): it is logged, and what is left stays under the run's work directory."""
    try:
        await remove_worktree(cache, tree)
    except Exception:
        log.exception("could not remove the worktree %s", path)
    try:
        await asyncio.to_thread(delete_tree, path)
    except Exception:
        log.exception("could not delete %s", path)

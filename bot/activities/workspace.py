"""Where the agent and test activities work: a directory per run, activity and attempt, and a
private worktree of the scratch branch there, removed afterwards whatever happened."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio import activity

from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.mirror import MirrorCache
from bot.git.worktree import Worktree, open_worktree, remove_worktree


def workdir(root: Path, run_id: str, name: str) -> Path:
    """A fresh directory per attempt: a retried attempt never finds the last one's files."""
    return root / run_id / f"{name}-a{activity.info().attempt}"


@contextlib.asynccontextmanager
async def checked_out(
    cache: MirrorCache, remote: Remote, branch: str, path: Path, start: str | None = None
) -> AsyncIterator[Worktree]:
    """A worktree of `branch` (at the remote branch `start`, when given: to rebase it)."""
    tree = await open_worktree(cache, remote, branch, path, start=start)
    try:
        yield tree
    finally:
        with contextlib.suppress(GitError):  # a failed tidy-up fails no work
            await remove_worktree(cache, tree)
        shutil.rmtree(path, ignore_errors=True)

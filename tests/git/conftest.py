"""Fixtures of the git tests: a bare remote on disk and a worker's mirror cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.remote import Remote
from bot.git.mirror import MirrorCache
from tests.git.helpers import History, bare_remote, make_history


@pytest.fixture
async def remote(tmp_path: Path) -> Remote:
    """A plain bare repository as the remote: main with shared.txt, and the scratch branch."""
    return await bare_remote(tmp_path)


@pytest.fixture
def cache(tmp_path: Path) -> MirrorCache:
    return MirrorCache(tmp_path / "cache")


@pytest.fixture
async def history(tmp_path: Path) -> tuple[History, dict[str, str]]:
    """main, then a scratch branch where implement, test, docs, a human and the orchestrator
    commit; main moves on after the fork. Returns the builder and the shas by role."""
    return await make_history(tmp_path)

"""Fixtures of the activity tests: a repository with a run's history."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.git.helpers import History, make_history


@pytest.fixture
async def history(tmp_path: Path) -> tuple[History, dict[str, str]]:
    """main, then a scratch branch where implement, test, docs, a human and the orchestrator
    commit; main moves on after the fork. Returns the builder and the shas by role."""
    return await make_history(tmp_path)

"""Shared by the sandbox tests: the local package index, a fresh virtualenv, and hostile
and deep trees (deleted by descriptor: pytest's own clean-up is recursive)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.trees import delete_tree
from tests.support.pyindex import BENCH_DISTS, FIXTURE_BACKEND, FIXTURE_DEP, PackageIndex
from tests.support.trees import hostile_tree


@pytest.fixture(scope="session")
def pyindex() -> Iterator[PackageIndex]:
    with PackageIndex([FIXTURE_DEP, FIXTURE_BACKEND, *BENCH_DISTS]) as served:
        yield served


@pytest.fixture(scope="session")
def pip_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv made by the worker's interpreter, with its bundled pip."""
    target = tmp_path_factory.mktemp("venv").resolve() / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
    return target


@pytest.fixture
def leave_no_deep_tree(tmp_path: Path) -> Iterator[None]:
    """pytest's own clean-up of old temporary directories is recursive: deep trees go here."""
    yield
    for child in tmp_path.iterdir():
        delete_tree(child)


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Path]:
    """A tree of every special file a sandbox can leave (tests/support/trees.py)."""
    with hostile_tree(tmp_path) as root:
        yield root

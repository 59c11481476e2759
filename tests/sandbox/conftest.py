"""Shared by the environment-phase tests: the local package index and a fresh virtualenv."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pyindex import BENCH_DISTS, FIXTURE_BACKEND, FIXTURE_DEP, PackageIndex


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

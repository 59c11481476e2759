"""The scripted model server and a real AnthropicModel client of it, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.agents.model import AnthropicModel
from tests.fakes import ScriptedModel


@pytest.fixture
def server() -> Iterator[ScriptedModel]:
    with ScriptedModel() as scripted:
        yield scripted


@pytest.fixture
async def model(server: ScriptedModel) -> AsyncIterator[AnthropicModel]:
    client = AnthropicModel(api_key="test-key", base_url=server.base_url)
    try:
        yield client
    finally:
        await client.close()

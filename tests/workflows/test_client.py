"""The client side of the run: the memory over updates refuses rather than fails."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from bot.core.memory import Memory, MemoryWrite
from bot.core.plan import Role
from bot.core.results import AgentProgress
from bot.core.usage import Usage
from bot.errors import MemoryRefused
from bot.workflows.client import WorkflowMemory


async def test_an_oversized_write_is_refused_before_any_rpc(temporal_client: Client) -> None:
    """A 10 MB value is refused by the client itself (no workflow needs to exist)."""
    memory = WorkflowMemory(temporal_client, "no-such-run")
    write = MemoryWrite(agent="implement", key="k", value="x" * 10_000_000)
    with pytest.raises(MemoryRefused, match=r"^value is 10000000 characters; the limit is 4000$"):
        await memory.write(write)


async def test_an_unreachable_memory_never_raises_anything_but_a_refusal(
    temporal_client: Client,
) -> None:
    """With no workflow behind it, a write is a MemoryRefused, a read is the last memory seen
    (empty) and a progress report is dropped: none of them ends the agent."""
    memory = WorkflowMemory(temporal_client, "no-such-run")
    with pytest.raises(MemoryRefused, match=r"^The shared memory could not be reached"):
        await memory.write(MemoryWrite(agent="implement", key="k", value="v"))
    assert await memory.read() == Memory()
    await memory.report_turn(
        AgentProgress(role=Role.IMPLEMENT, round=1, turns=1, usage=Usage(output_tokens=1))
    )
    assert await memory.read() == Memory()

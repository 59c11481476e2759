"""What an agent needs of the world, as Protocols: its tools and the run's shared memory (the
model is agents/model.py's `ModelClient`). The loop depends on these alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.memory import Memory, MemoryWrite, Note

__all__ = ["MemoryPort", "ToolOutcome", "Tools"]


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    is_error: bool = False
    memory_version: int | None = None  # the memory version the agent has now seen, if any


class Tools(Protocol):
    """An agent's tools (a Toolbox in production)."""

    @property
    def files_written(self) -> set[str]: ...

    async def call(
        self, name: str, tool_input: object, *, agent: str, time_left: float | None = None
    ) -> ToolOutcome: ...


class MemoryPort(Protocol):
    """The run's shared memory as an agent reaches it (a Temporal update in production).

    `write` raises MemoryRefused for any write it did not store, whatever the reason.
    """

    async def read(self) -> Memory: ...

    async def write(self, write: MemoryWrite) -> Note: ...

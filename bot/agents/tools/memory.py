"""The agents' `memory` tool: read the run's shared memory, or write a note to it."""

from __future__ import annotations

from typing import Any

from bot.agents.ports import MemoryPort, ToolOutcome
from bot.agents.tools.fields import field
from bot.core.memory import MemoryWrite, WriteMode, check_write
from bot.errors import ToolError


async def memory_tool(memory: MemoryPort, tool_input: dict[str, Any], agent: str) -> ToolOutcome:
    action = field(tool_input, "action", str, required=True)
    if action == "read":
        current = await memory.read()
        text = f"Shared memory, version {current.version}:\n{current.render()}"
        return ToolOutcome(text, memory_version=current.version)
    if action != "write":
        raise ToolError("`action` must be `read` or `write`.")
    key = field(tool_input, "key", str, required=True)
    value = field(tool_input, "value", str, required=True)
    mode = field(tool_input, "mode", str) or WriteMode.SET.value
    if mode not in (WriteMode.SET.value, WriteMode.APPEND.value):
        raise ToolError("`mode` must be `set` or `append`.")
    write = MemoryWrite(agent=agent, key=key, value=value, mode=WriteMode(mode))
    check_write(write)  # before the write travels anywhere
    note = await memory.write(write)
    return ToolOutcome(f"Saved `{note.key}` as memory version {note.version}.")

"""Reading a tool call's input: each field checked for presence and type before any use."""

from __future__ import annotations

from typing import Any

from bot.errors import ToolError


def field(tool_input: dict[str, Any], key: str, kind: type[Any], *, required: bool = False) -> Any:
    """The value of `key`, of type `kind` (a bool is not an int), or None when it is absent and
    not required; ToolError otherwise."""
    value = tool_input.get(key)
    if value is None:
        if required:
            raise ToolError(f"Parameter `{key}` is required.")
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ToolError(f"Parameter `{key}` must be of type {kind.__name__}.")
    return value

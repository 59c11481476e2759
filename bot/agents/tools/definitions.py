"""The agents' tools as the Messages API is told about them: names and input schemas."""

from __future__ import annotations

from typing import Any

EDITOR_TOOL = "str_replace_based_edit_tool"
SEARCH_TOOL = "search"
RUN_TOOL = "run"
MEMORY_TOOL = "memory"
TOOL_NAMES = (EDITOR_TOOL, SEARCH_TOOL, RUN_TOOL, MEMORY_TOOL)


def tool_definitions() -> list[dict[str, Any]]:
    """The agents' tools, always in this order (the order is part of the cached prefix)."""
    return [
        {"type": "text_editor_20250728", "name": EDITOR_TOOL},
        {
            "name": SEARCH_TOOL,
            "description": "Search the repository's text files with git grep. Returns "
            "`path:line:text` lines, capped; 'no matches' when nothing matches.",
            "input_schema": {
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "description": "extended regular expression"},
                    "path_glob": {"type": "string", "description": "e.g. `src/**/*.py`"},
                    "fixed_string": {"type": "boolean", "description": "pattern is literal"},
                },
                "required": ["pattern"],
                "additionalProperties": False,
            },
        },
        {
            "name": RUN_TOOL,
            "description": "Run a shell command in a sandbox, in the repository, which is at "
            "/workspace there (its working directory). The repository's own environment "
            "(its dependencies) is installed; there is no network, and time is limited. "
            "Returns the exit code and the (shortened) output.",
            "input_schema": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
                "additionalProperties": False,
            },
        },
        {
            "name": MEMORY_TOOL,
            "description": "The memory shared by all agents of this run. `read` returns every "
            "note; `write` stores a note under a key (`set` replaces the key's value, "
            "`append` adds a note beside earlier ones).",
            "input_schema": {
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["read", "write"]},
                    "key": {"type": "string"},
                    "value": {"type": "string"},
                    "mode": {"type": "string", "enum": ["set", "append"]},
                },
                "required": ["action"],
                "additionalProperties": False,
            },
        },
    ]

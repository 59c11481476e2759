"""The limits of one agent's work in one place: its budget, the size of each turn and request,
and the size of each tool input; and the elision that keeps a long conversation under the
request cap.

A model obeying an injection will try to exceed every limit at once, so each one binds where
the work happens: time and tokens around every tool call, sizes before any request, RPC or disk
write. Reaching one ends that call (a tool error) or that agent (status BUDGET), never the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["AgentBudget", "ToolLimits", "elide_history", "json_size"]


@dataclass(frozen=True)
class AgentBudget:
    max_turns: int = 30
    max_tokens: int = 300_000  # input + output + cache read + cache write, summed over turns
    max_seconds: float = 900.0
    # A tool call that overruns the time left by more than this is cancelled.
    call_grace_seconds: float = 5.0
    max_calls_per_turn: int = 32
    max_result_chars_per_turn: int = 128 * 1024
    # Well under the Messages API's 32 MB; longer conversations lose their oldest tool output.
    max_request_bytes: int = 2 * 1024 * 1024


@dataclass(frozen=True)
class ToolLimits:
    run_timeout_s: float = 600.0
    # The editor runs in a thread, off the worker's event loop; this bounds the wait for it.
    editor_timeout_s: float = 30.0
    run_output_bytes: int = 16_384
    # All of an agent's `run` commands together may add this much to its worktree.
    run_disk_mb: int = 1024
    max_input_chars: int = 512 * 1024  # one call's whole input, as JSON
    max_command_chars: int = 16_384  # Linux refuses one argument over 128 KiB anyway
    max_pattern_chars: int = 1_000
    max_path_chars: int = 1_024
    # file_text, old_str, new_str, insert_text: a model answer is far smaller (max_tokens).
    max_edit_chars: int = 200_000


_KEEP_CHARS = 200  # of an elided string, what stays for the model to recognise it
_ELIDE_OVER_CHARS = 1_000  # shorter strings are not worth eliding


def json_size(value: Any) -> int:
    """Bytes of `value` as JSON, as requests send it (never fewer: ASCII escapes)."""
    return len(json.dumps(value))


def elide_history(messages: list[dict[str, Any]], size: int, limit: int) -> int:
    """Shrink the conversation in place, oldest first, until a request of `size` bytes fits
    well under `limit` (three quarters, so that elision does not recur every turn and break
    the prompt cache each time). Tool results go first, then the model's own long inputs and
    texts; the first message (the task) stays. Every block keeps its type and ids, so the
    request stays valid. Returns the new size, which may still be over the limit."""
    if size <= limit:
        return size
    target = limit * 3 // 4
    for kinds in (("tool_result",), ("tool_use", "text")):
        for message in messages[1:]:
            content = message["content"]
            for index, block in enumerate(content):
                if size <= target:
                    return size
                if block.get("type") not in kinds:
                    continue
                shrunk = _shrunk(block)
                if shrunk is not None:
                    size -= json_size(block) - json_size(shrunk)
                    content[index] = shrunk
    return size


def _shrunk(block: dict[str, Any]) -> dict[str, Any] | None:
    """The block with its long text cut, or None when there is nothing worth cutting."""
    kind = block.get("type")
    if kind == "tool_result":
        content = block.get("content")
        if json_size(content) <= _ELIDE_OVER_CHARS:
            return None
        return {**block, "content": f"[{json_size(content)} bytes of old tool output elided]"}
    if kind == "text":
        text = _cut(block.get("text"))
        return None if text is None else {**block, "text": text}
    if kind == "tool_use" and isinstance(block.get("input"), dict):
        tool_input: dict[str, Any] = block["input"]
        cut = {key: _cut(value) for key, value in tool_input.items()}
        if all(value is None for value in cut.values()):
            return None
        return {**block, "input": {key: cut[key] or tool_input[key] for key in tool_input}}
    return None


def _cut(value: object) -> str | None:
    """A long value cut to the start of its text and a note; None when it is short."""
    if isinstance(value, str):
        if len(value) <= _ELIDE_OVER_CHARS:
            return None
        return value[:_KEEP_CHARS] + f"… [{len(value) - _KEEP_CHARS} characters elided]"
    size = json_size(value)
    return None if size <= _ELIDE_OVER_CHARS else f"[{size} bytes elided]"

"""An agent's tools behind one `call`: the text editor, `search`, `run` and `memory`.

Every failure a tool call can meet (a refused path, a bad argument, an input over its size
limit, a refused or failed memory write, an unknown tool) comes back as a `ToolOutcome` with
`is_error=True` and a short message for the model: the loop never sees an exception from a
tool, and the model never sees a traceback. Sizes are checked before anything is sent, run or
written (`ToolLimits`); a command never runs past the time its agent has left. The editor's
file work runs in a thread, so nothing it meets in the worktree can stop the worker's event
loop, and its answer is awaited for a bounded time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.agents.limits import ToolLimits, json_size
from bot.agents.ports import MemoryPort, ToolOutcome
from bot.agents.tools.definitions import (
    EDITOR_TOOL,
    MEMORY_TOOL,
    RUN_TOOL,
    SEARCH_TOOL,
    TOOL_NAMES,
)
from bot.agents.tools.editor import TextEditor
from bot.agents.tools.memory import memory_tool
from bot.agents.tools.run import WorktreeAllowance, run_command
from bot.agents.tools.search import search
from bot.core.commit_policy import WritePolicy
from bot.core.memory import MAX_VALUE_CHARS
from bot.core.validation import brief
from bot.errors import MemoryRefused, PathRefused, SandboxError, ToolError
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment

__all__ = ["Toolbox"]

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 1000
_MAX_INPUT_ERRORS = 5
_EDIT_FIELDS = ("file_text", "old_str", "new_str", "insert_text")
_REFUSALS = (ToolError, PathRefused, MemoryRefused, SandboxError)


class Toolbox:
    """The tools of one agent in one worktree."""

    def __init__(
        self,
        worktree: Path,
        memory: MemoryPort,
        *,
        policy: WritePolicy | None = None,
        limits: ToolLimits | None = None,
        run_ro_binds: Sequence[Path] = (),
        environment: SandboxEnvironment = NO_ENVIRONMENT,
    ) -> None:
        self.worktree = worktree
        self.memory = memory
        # The commit step screens with the same policy: whatever the editor refuses, a `run`
        # command cannot sneak into the commit either (core/commit_policy.py).
        policy = policy or WritePolicy()
        self.editor = TextEditor(
            worktree,
            allowed_write_globs=policy.allowed_globs,
            denied_globs=policy.denied_globs,
            allow_submodules=policy.allow_submodules,
        )
        self.limits = limits or ToolLimits()
        self.run_limits = SandboxLimits(
            timeout_s=self.limits.run_timeout_s, output_bytes=self.limits.run_output_bytes
        )
        self.run_allowance = WorktreeAllowance(worktree, self.limits.run_disk_mb)
        self.run_ro_binds = tuple(run_ro_binds)
        self.environment = environment  # the repository's, for `run` (read-only)

    @property
    def files_written(self) -> set[str]:
        """Worktree-relative paths the editor changed (commands may change others)."""
        return set(self.editor.written)

    async def call(
        self, name: str, tool_input: object, *, agent: str, time_left: float | None = None
    ) -> ToolOutcome:
        """Run one tool call for `agent`, within `time_left` seconds when given (the rest of
        the agent's time budget); never raises for anything the model did."""
        try:
            if not isinstance(tool_input, dict):
                raise ToolError("The tool input must be a JSON object.")
            self._check_sizes(name, tool_input)
            return await self._dispatch(name, tool_input, agent, time_left)
        except _REFUSALS as exc:
            return _error(str(exc))
        except ValidationError as exc:
            return _error("Invalid input: " + brief(exc, root="input", limit=_MAX_INPUT_ERRORS))
        except Exception:  # a bug in a tool must not end the agent; the worker log has it
            log.exception("tool %s failed", name)
            return _error(f"The tool `{name[:100]}` failed unexpectedly; try another approach.")

    async def _dispatch(
        self, name: str, tool_input: dict[str, Any], agent: str, time_left: float | None
    ) -> ToolOutcome:
        if name == EDITOR_TOOL:
            return ToolOutcome(await self._edit(tool_input, time_left))
        if name == SEARCH_TOOL:
            return ToolOutcome(await search(self.worktree, tool_input))
        if name == RUN_TOOL:
            text = await run_command(
                self.worktree,
                tool_input,
                self.run_limits,
                time_left,
                self.run_ro_binds,
                self.environment,
                self.run_allowance,
            )
            return ToolOutcome(text)
        if name == MEMORY_TOOL:
            return await memory_tool(self.memory, tool_input, agent)
        known = ", ".join(TOOL_NAMES)
        raise ToolError(f"Unknown tool `{name[:100]}`. The tools are: {known}.")

    async def _edit(self, tool_input: dict[str, Any], time_left: float | None) -> str:
        """The editor's call, in a thread, within the editor's limit and the agent's time."""
        timeout = self.limits.editor_timeout_s
        if time_left is not None:
            if time_left <= 0:
                raise ToolError("Not run: the agent's time budget is used up.")
            timeout = min(timeout, time_left)
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.editor.run, tool_input), timeout)
        except TimeoutError:
            raise ToolError(f"The editor did not finish within {round(timeout, 1):g} s.") from None

    def _check_sizes(self, name: str, tool_input: dict[str, Any]) -> None:
        """Refuse an input over its limits before any of it is used."""
        for key, limit in self._bounds(name).items():
            value = tool_input.get(key)
            if isinstance(value, str) and len(value) > limit:
                raise ToolError(
                    f"Parameter `{key}` is {len(value)} characters; the limit is {limit}."
                )
        size = json_size(tool_input)
        if size > self.limits.max_input_chars:
            raise ToolError(
                f"The input is {size} bytes; the limit is {self.limits.max_input_chars}."
            )

    def _bounds(self, name: str) -> dict[str, int]:
        """The longest string each parameter of tool `name` may hold."""
        limits = self.limits
        bounds = {"path": limits.max_path_chars, "path_glob": limits.max_path_chars}
        if name == EDITOR_TOOL:
            bounds.update(dict.fromkeys(_EDIT_FIELDS, limits.max_edit_chars))
        elif name == SEARCH_TOOL:
            bounds["pattern"] = limits.max_pattern_chars
        elif name == RUN_TOOL:
            bounds["command"] = limits.max_command_chars
        elif name == MEMORY_TOOL:
            bounds["value"] = MAX_VALUE_CHARS  # the key's bound is check_write's
        return bounds


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(message[:_MAX_ERROR_CHARS] or "The tool call failed.", is_error=True)

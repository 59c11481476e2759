"""An agent's tools behind one `call`: the text editor, `search`, `run` and `memory`.

Every failure a tool call can meet (a refused path, a bad argument, an input over its size
limit, a refused or failed memory write, an unknown tool) comes back as a `ToolOutcome` with
`is_error=True` and a short message for the model: the loop never sees an exception from a
tool, and the model never sees a traceback. Sizes are checked before anything is sent, run or
written (`ToolLimits`); a command never runs past the time its agent has left.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from bot.agents.context import EDITOR_TOOL, MEMORY_TOOL, RUN_TOOL, SEARCH_TOOL
from bot.agents.fs_tools import TextEditor, git_grep
from bot.agents.limits import ToolLimits, json_size
from bot.core.commit_policy import WritePolicy
from bot.core.memory import MAX_VALUE_CHARS, Memory, MemoryWrite, Note, WriteMode, check_write
from bot.errors import MemoryRefused, PathRefused, SandboxError, ToolError
from bot.sandbox.bwrap import SandboxLimits, run_sandboxed

__all__ = ["MemoryPort", "ToolLimits", "ToolOutcome", "ToolPort", "Toolbox"]

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 1000
_EDIT_FIELDS = ("file_text", "old_str", "new_str", "insert_text")
_REFUSALS = (ToolError, PathRefused, MemoryRefused, SandboxError)


class MemoryPort(Protocol):
    """The run's shared memory as an agent reaches it (a Temporal update in production).

    `write` raises MemoryRefused for any write it did not store, whatever the reason.
    """

    async def read(self) -> Memory: ...

    async def write(self, write: MemoryWrite) -> Note: ...


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    is_error: bool = False
    memory_version: int | None = None  # the memory version the agent has now seen, if any


class ToolPort(Protocol):
    """What the loop needs of an agent's tools (a Toolbox in production)."""

    @property
    def files_written(self) -> set[str]: ...

    async def call(
        self, name: str, tool_input: object, *, agent: str, time_left: float | None = None
    ) -> ToolOutcome: ...


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
    ) -> None:
        self.worktree = worktree
        self.memory = memory
        # The commit step screens with the same policy: whatever the editor refuses, a `run`
        # command cannot sneak into the commit either (bot/commit_policy.py).
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
        self.run_ro_binds = tuple(run_ro_binds)

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
            if name == EDITOR_TOOL:
                return ToolOutcome(self.editor.run(tool_input))
            if name == SEARCH_TOOL:
                return ToolOutcome(await self._search(tool_input))
            if name == RUN_TOOL:
                return ToolOutcome(await self._run(tool_input, time_left))
            if name == MEMORY_TOOL:
                return await self._memory(tool_input, agent)
            known = ", ".join((EDITOR_TOOL, SEARCH_TOOL, RUN_TOOL, MEMORY_TOOL))
            raise ToolError(f"Unknown tool `{name[:100]}`. The tools are: {known}.")
        except _REFUSALS as exc:
            return _error(str(exc))
        except ValidationError as exc:
            return _error("Invalid input: " + _brief(exc))
        except Exception:  # a bug in a tool must not end the agent; the worker log has it
            log.exception("tool %s failed", name)
            return _error(f"The tool `{name[:100]}` failed unexpectedly; try another approach.")

    def _check_sizes(self, name: str, tool_input: dict[str, Any]) -> None:
        """Refuse an input over its limits before any of it is used."""
        limits = self.limits
        for key, limit in self._bounds(name).items():
            value = tool_input.get(key)
            if isinstance(value, str) and len(value) > limit:
                raise ToolError(
                    f"Parameter `{key}` is {len(value)} characters; the limit is {limit}."
                )
        size = json_size(tool_input)
        if size > limits.max_input_chars:
            raise ToolError(f"The input is {size} bytes; the limit is {limits.max_input_chars}.")

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

    async def _search(self, tool_input: dict[str, Any]) -> str:
        pattern = _field(tool_input, "pattern", str, required=True)
        path_glob = _field(tool_input, "path_glob", str)
        fixed = _field(tool_input, "fixed_string", bool)
        return await git_grep(
            self.worktree, pattern, path_glob=path_glob or None, fixed_string=bool(fixed)
        )

    async def _run(self, tool_input: dict[str, Any], time_left: float | None) -> str:
        command = _field(tool_input, "command", str, required=True)
        if not command.strip():
            raise ToolError("The command must not be empty.")
        limits, cut_short = self.run_limits, False
        if time_left is not None and time_left < limits.timeout_s:
            if time_left <= 0:
                raise ToolError("Not run: the agent's time budget is used up.")
            limits, cut_short = dataclasses.replace(limits, timeout_s=time_left), True
        result = await run_sandboxed(
            command, self.worktree, limits=limits, ro_binds=self.run_ro_binds
        )
        if result.timed_out:
            status = f"timed out after {round(limits.timeout_s, 1):g} s (killed)"
            if cut_short:
                status += ": the agent's time budget ran out"
        elif result.killed:
            status = f"killed: {result.killed}"
        else:
            status = f"exit code {result.exit_code}"
        return f"{status}\n{result.output}" if result.output else f"{status}\n(no output)"

    async def _memory(self, tool_input: dict[str, Any], agent: str) -> ToolOutcome:
        action = _field(tool_input, "action", str, required=True)
        if action == "read":
            memory = await self.memory.read()
            text = f"Shared memory, version {memory.version}:\n{memory.render()}"
            return ToolOutcome(text, memory_version=memory.version)
        if action != "write":
            raise ToolError("`action` must be `read` or `write`.")
        key = _field(tool_input, "key", str, required=True)
        value = _field(tool_input, "value", str, required=True)
        mode = _field(tool_input, "mode", str) or WriteMode.SET.value
        if mode not in (WriteMode.SET.value, WriteMode.APPEND.value):
            raise ToolError("`mode` must be `set` or `append`.")
        write = MemoryWrite(agent=agent, key=key, value=value, mode=WriteMode(mode))
        check_write(write)  # before the write travels anywhere
        note = await self.memory.write(write)
        return ToolOutcome(f"Saved `{note.key}` as memory version {note.version}.")


def _field(tool_input: dict[str, Any], key: str, kind: type[Any], *, required: bool = False) -> Any:
    value = tool_input.get(key)
    if value is None:
        if required:
            raise ToolError(f"Parameter `{key}` is required.")
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ToolError(f"Parameter `{key}` must be of type {kind.__name__}.")
    return value


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(message[:_MAX_ERROR_CHARS] or "The tool call failed.", is_error=True)


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
        for error in exc.errors()[:5]
    )

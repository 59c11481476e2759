"""The agents' text editor tool (Anthropic's `text_editor_20250728`), confined to the worktree
by the path rules of agents/tools/paths.py.

Files are read and written only through sandbox/files.py: the worktree is a sandbox's, so what
stands at a path may be a FIFO (opening it would block forever), a socket, a link or a huge
file. Only regular files are read or replaced; nothing here can block on a special file.
Error text is read by the model: short, and it names the path as the model wrote it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.agents.tools.paths import resolve_in_worktree
from bot.core.commit_policy import DEFAULT_DENIED_WRITE_GLOBS
from bot.errors import FileRefused, PathRefused, ToolError
from bot.sandbox.files import read_regular, write_regular

__all__ = ["TextEditor"]

_MAX_FILE_BYTES = 4 * 1024 * 1024
_SNIPPET_LINES = 4
_LISTING_DEPTH = 2


class TextEditor:
    """Anthropic's text editor tool (`text_editor_20250728`) over one worktree.

    Commands: view, create, str_replace, insert (no undo_edit in this version). `create`
    overwrites an existing file. `written` collects the worktree-relative paths changed. Writes
    follow the write policy the commit applies too (core/commit_policy.py), on the path as named
    and as resolved.
    `write_guard(relative_path)` may raise PathRefused to veto a write on top of the globs.
    """

    name = "str_replace_based_edit_tool"
    type = "text_editor_20250728"
    _commands = ("view", "create", "str_replace", "insert")

    def __init__(
        self,
        worktree: Path,
        *,
        write_guard: Callable[[str], None] | None = None,
        allowed_write_globs: Sequence[str] | None = None,
        denied_globs: Sequence[str] = DEFAULT_DENIED_WRITE_GLOBS,
        allow_submodules: bool = False,
        max_view_chars: int = 20000,
    ) -> None:
        self.worktree = worktree.resolve()
        self.write_guard = write_guard
        self.allowed_write_globs = allowed_write_globs
        self.denied_globs = denied_globs
        self.allow_submodules = allow_submodules
        self.max_view_chars = max_view_chars
        self.written: set[str] = set()

    def tool_param(self) -> dict[str, Any]:
        """The tool definition for the Messages API request."""
        return {"type": self.type, "name": self.name, "max_characters": self.max_view_chars}

    def run(self, tool_input: dict[str, Any]) -> str:
        """Run one tool call; ToolError carries the message for an `is_error` result."""
        command, path = tool_input.get("command"), tool_input.get("path")
        if command not in self._commands:
            allowed = ", ".join(self._commands)
            raise ToolError(f"Unrecognized command {command}. The allowed commands are: {allowed}")
        if not isinstance(path, str):
            raise ToolError(f"Parameter `path` is required for command: {command}")
        try:
            if command == "view":
                return self._view(path, tool_input.get("view_range"))
            target = self._writable(path)
            if command == "create":
                text = _required(tool_input, "file_text", str, command)
                return self._create(path, target, text)
            if command == "str_replace":
                old = _required(tool_input, "old_str", str, command)
                new = tool_input.get("new_str") or ""
                return self._str_replace(path, target, old, _typed(new, str, "new_str"))
            line = _required(tool_input, "insert_line", int, command)
            # 20250728 names the text `insert_text`; older versions said `new_str`.
            text = tool_input.get("insert_text", tool_input.get("new_str"))
            if text is None:
                raise ToolError("Parameter `insert_text` is required for command: insert")
            return self._insert(path, target, line, _typed(text, str, "insert_text"))
        except PathRefused as exc:
            raise ToolError(str(exc)) from exc

    def _writable(self, path: str) -> Path:
        target = resolve_in_worktree(
            self.worktree,
            path,
            for_write=True,
            allowed_write_globs=self.allowed_write_globs,
            denied_globs=self.denied_globs,
            allow_submodules=self.allow_submodules,
        )
        if self.write_guard is not None:
            self.write_guard(target.relative_to(self.worktree).as_posix())
        return target

    def _view(self, path: str, view_range: object) -> str:
        target = resolve_in_worktree(self.worktree, path)
        if target.is_dir():
            if view_range is not None:
                raise ToolError("The `view_range` parameter is not allowed for a directory.")
            return self._listing(path, target)
        lines = self._read_text(path, target).split("\n")
        if lines[-1] == "" and len(lines) > 1:
            lines.pop()
        first, last = 1, len(lines)
        if view_range is not None:
            first, last = _check_range(view_range, len(lines))
        numbered = _number(lines[first - 1 : last], first)
        if len(numbered) > self.max_view_chars:
            cut = numbered.rfind("\n", 0, self.max_view_chars) + 1
            numbered = numbered[:cut] + (
                f"[... truncated at {self.max_view_chars} characters; the file has "
                f"{len(lines)} lines: use view_range to see the rest]\n"
            )
        return f"Here's the result of running `cat -n` on {path}:\n{numbered}"

    def _listing(self, path: str, directory: Path) -> str:
        entries: list[str] = []

        def walk(current: Path, depth: int) -> None:
            with contextlib.suppress(OSError), os.scandir(current) as found:
                for entry in sorted(found, key=lambda e: e.name):
                    if entry.name.startswith("."):
                        continue
                    relative = Path(entry.path).relative_to(self.worktree).as_posix()
                    is_dir = entry.is_dir(follow_symlinks=False)
                    entries.append(relative + ("/" if is_dir else ""))
                    if is_dir and depth < _LISTING_DEPTH:
                        walk(Path(entry.path), depth + 1)

        walk(directory, 1)
        text = "\n".join(entries)
        if len(text) > self.max_view_chars:
            text = text[: text.rfind("\n", 0, self.max_view_chars)] + "\n[... listing truncated]"
        return (
            f"Here are the files and directories up to 2 levels deep in {path}, "
            f"excluding hidden items:\n{text}\n"
        )

    def _create(self, path: str, target: Path, text: str) -> str:
        existed = self._write(path, target, text, make_parents=True)
        return f"File {'overwritten' if existed else 'created'} successfully at: {path}"

    def _str_replace(self, path: str, target: Path, old: str, new: str) -> str:
        if not old:
            raise ToolError("Parameter `old_str` must not be empty.")
        original = self._read_text(path, target)
        text, crlf = _to_lf(original)
        if crlf:
            old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
        positions = _find_all(text, old)
        if not positions:
            raise ToolError(
                f"No replacement was performed, old_str did not appear verbatim in {path}."
            )
        if len(positions) > 1:
            lines = [text.count("\n", 0, p) + 1 for p in positions]
            raise ToolError(
                f"No replacement was performed. Multiple occurrences of old_str in lines "
                f"{lines}. Please ensure it is unique."
            )
        at = positions[0]
        updated = text[:at] + new + text[at + len(old) :]
        self._write(path, target, _from_lf(updated, crlf))
        first = text.count("\n", 0, at) + 1
        return self._edited(path, updated, first, first + new.count("\n"))

    def _insert(self, path: str, target: Path, line: int, insert: str) -> str:
        text, crlf = _to_lf(self._read_text(path, target))
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if not 0 <= line <= len(lines):
            raise ToolError(
                f"Invalid `insert_line` parameter: {line}. It should be within the range "
                f"of lines of the file: [0, {len(lines)}]"
            )
        new_lines = insert.replace("\r\n", "\n").removesuffix("\n").split("\n")
        updated = "\n".join(lines[:line] + new_lines + lines[line:]) + "\n"
        self._write(path, target, _from_lf(updated, crlf))
        return self._edited(path, updated, line + 1, line + len(new_lines))

    def _edited(self, path: str, text: str, first: int, last: int) -> str:
        lines = text.split("\n")
        start = max(1, first - _SNIPPET_LINES)
        end = min(len(lines), last + _SNIPPET_LINES)
        snippet = _number(lines[start - 1 : end], start)
        return (
            f"The file {path} has been edited. Here's the result of running `cat -n` on a "
            f"snippet of {path}:\n{snippet}Review the changes and make sure they are as "
            "expected. Edit the file again if necessary."
        )

    def _read_text(self, path: str, target: Path) -> str:
        relative = target.relative_to(self.worktree).as_posix()
        try:
            data = read_regular(self.worktree, relative, _MAX_FILE_BYTES)
        except FileNotFoundError as exc:
            raise ToolError(f"The path {path} does not exist.") from exc
        except IsADirectoryError as exc:
            raise ToolError(
                f"The path {path} is a directory; only `view` works on directories."
            ) from exc
        except FileRefused as exc:
            raise ToolError(f"{path} {exc}.") from exc
        except OSError as exc:
            raise ToolError(f"Could not read {path}: {exc.strerror}") from exc
        if b"\0" in data:
            raise ToolError(f"{path} looks like a binary file.")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ToolError(f"{path} is not UTF-8 text.") from exc

    def _write(self, path: str, target: Path, text: str, *, make_parents: bool = False) -> bool:
        """Replace the file with `text`; whether it existed before."""
        relative = target.relative_to(self.worktree).as_posix()
        if relative == ".":
            raise ToolError(f"{path} is a directory; create needs a file path.")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ToolError("The text is not valid Unicode (a lone surrogate).") from exc
        try:
            existed = write_regular(self.worktree, relative, data, make_parents=make_parents)
        except IsADirectoryError as exc:
            raise ToolError(f"{path} is a directory; create needs a file path.") from exc
        except FileRefused as exc:
            raise ToolError(f"{path} {exc}: not written.") from exc
        except OSError as exc:
            raise ToolError(f"Could not write {path}: {exc.strerror}") from exc
        self.written.add(relative)
        return existed


def _required(tool_input: dict[str, Any], key: str, kind: type[Any], command: str) -> Any:
    if tool_input.get(key) is None:
        raise ToolError(f"Parameter `{key}` is required for command: {command}")
    return _typed(tool_input[key], kind, key)


def _typed(value: Any, kind: type[Any], key: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ToolError(f"Parameter `{key}` must be of type {kind.__name__}.")
    return value


def _check_range(view_range: object, n_lines: int) -> tuple[int, int]:
    if not (
        isinstance(view_range, list)
        and len(view_range) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) for i in view_range)
    ):
        raise ToolError("Invalid `view_range`. It should be a list of two integers.")
    first, last = view_range
    if not 1 <= first <= n_lines:
        raise ToolError(
            f"Invalid `view_range`: {view_range}. Its first element `{first}` should be "
            f"within the range of lines of the file: [1, {n_lines}]"
        )
    if last == -1:
        return first, n_lines
    if last < first or last > n_lines:
        raise ToolError(
            f"Invalid `view_range`: {view_range}. Its second element `{last}` should be "
            f"-1 or between {first} and the number of lines in the file ({n_lines})."
        )
    return first, last


def _number(lines: Sequence[str], first: int) -> str:
    return "".join(f"{n:6}\t{line}\n" for n, line in enumerate(lines, first))


def _to_lf(text: str) -> tuple[str, bool]:
    """Text with LF line ends, and whether it used CRLF throughout (to write it back so)."""
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    return (text.replace("\r\n", "\n") if crlf else text), crlf


def _from_lf(text: str, crlf: bool) -> str:
    return text.replace("\n", "\r\n") if crlf else text


def _find_all(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    return found

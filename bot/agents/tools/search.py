"""The agents' `search` tool: git grep over one worktree, through the one git runner module,
output capped."""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath
from typing import Any

from bot.agents.tools.fields import field
from bot.errors import GitError, ToolError
from bot.git.run import git_lines

__all__ = ["git_grep", "search"]

_GREP_LINE_CHARS = 300
_GREP_TIMEOUT_S = 60.0


async def search(worktree: Path, tool_input: dict[str, Any]) -> str:
    """The tool call: its fields checked, then `git_grep`."""
    pattern = field(tool_input, "pattern", str, required=True)
    path_glob = field(tool_input, "path_glob", str)
    fixed = field(tool_input, "fixed_string", bool)
    return await git_grep(worktree, pattern, path_glob=path_glob or None, fixed_string=bool(fixed))


async def git_grep(
    worktree: Path,
    pattern: str,
    *,
    path_glob: str | None = None,
    fixed_string: bool = False,
    max_results: int = 200,
) -> str:
    """`path:line:text` for each match of `pattern` in the worktree's tracked and untracked
    (not ignored) text files, capped at `max_results` lines; "no matches" when none."""
    if not pattern or "\0" in pattern:
        raise ToolError("The search pattern must not be empty.")
    args = ["grep", "-n", "-I", "--no-color", "--no-recurse-submodules", "--untracked"]
    args += ["-F" if fixed_string else "-E", "-e", pattern, "--"]
    if path_glob:
        named = PurePosixPath(path_glob)
        if named.is_absolute() or ".." in named.parts or "\0" in path_glob:
            raise ToolError(f"{path_glob}: the path glob must be relative to the repository")
        args.append(f":(glob){path_glob}")  # magic parsed once: the rest is a literal glob
    try:
        # The host's hardened git: fixed config (no fsmonitor, hooks or submodules), no secrets.
        async with asyncio.timeout(_GREP_TIMEOUT_S):
            found = await git_lines(
                args, cwd=worktree, limit=max_results, max_line_bytes=_GREP_LINE_CHARS * 4
            )
    except TimeoutError as exc:
        raise ToolError("The search took too long; narrow the pattern or the path glob.") from exc
    except GitError as exc:
        raise ToolError(f"git grep failed: {exc}") from exc
    lines = [_grep_line(line) for line in found.lines]
    if not found.complete:
        return "\n".join(lines) + f"\n[... more than {max_results} matches]\n"
    if lines:
        return "\n".join(lines) + "\n"
    if found.returncode not in (0, 1):
        raise ToolError(f"git grep failed: {found.stderr.removeprefix('fatal: ')[:500]}")
    return "no matches"


def _grep_line(raw: bytes) -> str:
    text = raw.decode(errors="replace")
    return text if len(text) <= _GREP_LINE_CHARS else text[:_GREP_LINE_CHARS] + " [...]"

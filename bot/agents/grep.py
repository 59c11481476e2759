"""The agents' `search` tool: git grep over one worktree, output capped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path, PurePosixPath

from bot.errors import ToolError
from bot.gitrun import git_command

__all__ = ["git_grep"]

_GREP_LINE_CHARS = 300
_GREP_TIMEOUT_S = 60.0


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
    # The host's hardened git: fixed config (no fsmonitor, hooks or submodules), no secrets.
    argv, env = git_command(args, cwd=worktree)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=worktree,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # own process group: ending it ends whatever git started
    )
    assert proc.stdout is not None and proc.stderr is not None
    finished = False
    try:
        lines = await asyncio.wait_for(_read_lines(proc.stdout, max_results + 1), _GREP_TIMEOUT_S)
        finished = len(lines) <= max_results
    except TimeoutError as exc:
        raise ToolError("The search took too long; narrow the pattern or the path glob.") from exc
    finally:
        if not finished:  # stopped reading early: git may block on a full pipe, end it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        errors = (await proc.stderr.read(4096)).decode(errors="replace").strip()
        await proc.wait()
    if len(lines) > max_results:
        return "\n".join(lines[:max_results]) + f"\n[... more than {max_results} matches]\n"
    if lines:
        return "\n".join(lines) + "\n"
    if proc.returncode not in (0, 1):
        raise ToolError(f"git grep failed: {errors.removeprefix('fatal: ')[:500]}")
    return "no matches"


async def _read_lines(stream: asyncio.StreamReader, limit: int) -> list[str]:
    """Up to `limit` lines, each cut to a readable length; never holds more than that."""
    lines: list[str] = []
    partial = bytearray()
    while len(lines) < limit:
        chunk = await stream.read(65536)
        if not chunk:
            if partial:
                lines.append(_grep_line(partial))
            break
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            partial += piece[: _GREP_LINE_CHARS * 4]
            lines.append(_grep_line(partial))
            partial = bytearray()
        partial += rest[: max(0, _GREP_LINE_CHARS * 4 - len(partial))]
    return lines[:limit]


def _grep_line(raw: bytes | bytearray) -> str:
    text = bytes(raw).decode(errors="replace")
    return text if len(text) <= _GREP_LINE_CHARS else text[:_GREP_LINE_CHARS] + " [...]"

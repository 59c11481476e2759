"""The one helper that runs git: argument lists, explicit cwd, the fixed environment of
git/env.py, a timeout that kills the whole process group, and a token that reaches only its own
remote URL, never a command line or a message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.remote import Credential, auth_header
from bot.errors import GitError
from bot.git.env import BOT_IDENTITY, GitIdentity, git_command

DEFAULT_TIMEOUT = 300.0
_STDERR_TAIL_CHARS = 1500
_READ_CHUNK = 65536
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class GitResult:
    """A finished command; stdout and stderr are already scrubbed of the token."""

    command: str
    returncode: int
    stdout: str
    stderr: str

    def error(self, what: str | None = None) -> GitError:
        detail = _URL_CREDENTIALS.sub("***@", self.stderr.strip() or self.stdout.strip())
        if len(detail) > _STDERR_TAIL_CHARS:
            detail = "…" + detail[-_STDERR_TAIL_CHARS:]
        head = what or f"{self.command} failed (exit {self.returncode})"
        return GitError(f"{head}: {detail}" if detail else head)


def command_name(args: Sequence[str]) -> str:
    """`git <subcommand>` for messages: never the arguments, which may carry paths or text."""
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg in ("-c", "-C"):
            skip_next = True
        elif not arg.startswith("-"):
            return f"git {arg}"
    return "git"


def checked_rev(rev: str) -> str:
    """`rev`, unless git would read it as an option (or it is empty)."""
    if not rev or rev.startswith("-"):
        raise GitError(f"invalid revision {rev!r}")
    return rev


def scrub(text: str, token: str | None, *, urls: bool = True) -> str:
    """Remove the token (raw or base64-encoded) and, if `urls`, URL credentials from text."""
    if token:
        text = text.replace(token, "***").replace(auth_header(token), "Authorization: ***")
        text = text.replace(base64.b64encode(f"x-access-token:{token}".encode()).decode(), "***")
    return _URL_CREDENTIALS.sub("***@", text) if urls else text


async def run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    home: Path | None = None,
    credential: Credential | None = None,
    identity: GitIdentity = BOT_IDENTITY,
    timeout: float = DEFAULT_TIMEOUT,
    input: str | None = None,
    check: bool = True,
) -> GitResult:
    """Run `git *args` in `cwd`; raise GitError on a non-zero exit (unless check=False).

    `credential` is for commands that talk to its remote, and only those: git sends its token
    to that URL alone, and only this one process (and its remote helper) ever sees it.
    """
    name = command_name(args)
    argv, env = git_command(args, cwd=cwd, home=home, credential=credential, identity=identity)
    stdin = asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL
    proc = await _spawn(name, argv, cwd, env, stdin)
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(input.encode() if input is not None else None)
    except TimeoutError:
        await _kill_group(proc)
        raise GitError(f"{name} timed out after {timeout:g}s") from None
    except BaseException:  # cancelled: leave no git process behind
        await _kill_group(proc)
        raise
    assert proc.returncode is not None
    token = credential.token if credential is not None else None
    result = GitResult(
        command=name,
        returncode=proc.returncode,
        # stdout may be file content (git show): only the token itself is ever taken out.
        stdout=scrub(out.decode("utf-8", "surrogateescape"), token, urls=False),
        stderr=scrub(err.decode("utf-8", "replace"), token),
    )
    if check and result.returncode != 0:
        raise result.error()
    return result


@dataclass(frozen=True)
class GitRunner:
    """`run_git` with the home, identity and timeout that one cache's commands share."""

    home: Path | None = None
    identity: GitIdentity = BOT_IDENTITY
    timeout: float = DEFAULT_TIMEOUT

    async def output(
        self, args: Sequence[str], *, cwd: Path, input: bytes, max_bytes: int
    ) -> bytes:
        """`git *args`' stdout as bytes, never more than `max_bytes` of it (no credential)."""
        return await git_output(
            args, cwd=cwd, home=self.home, timeout=self.timeout, input=input, max_bytes=max_bytes
        )

    async def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        credential: Credential | None = None,
        input: str | None = None,
        check: bool = True,
    ) -> GitResult:
        return await run_git(
            args,
            cwd=cwd,
            home=self.home,
            credential=credential,
            identity=self.identity,
            timeout=self.timeout,
            input=input,
            check=check,
        )


async def git_output(
    args: Sequence[str],
    *,
    cwd: Path,
    input: bytes,
    max_bytes: int,
    home: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> bytes:
    """The stdout of `git *args` (no credential) as bytes, never decoded and never holding
    more than `max_bytes`: a command with more to say is stopped and GitError raised, as for
    a failure or a timeout."""
    name = command_name(args)
    argv, env = git_command(args, cwd=cwd, home=home)
    proc = await _spawn(name, argv, cwd, env, asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        async with asyncio.timeout(timeout):
            proc.stdin.write(input)
            await proc.stdin.drain()
            proc.stdin.close()
            out = bytearray()
            while len(out) <= max_bytes and (chunk := await proc.stdout.read(_READ_CHUNK)):
                out += chunk
            if len(out) > max_bytes:
                raise GitError(f"{name} wrote more than {max_bytes} bytes")
            errors = (await proc.stderr.read(4096)).decode(errors="replace").strip()
            code = await proc.wait()
    except TimeoutError:
        raise GitError(f"{name} timed out after {timeout:g}s") from None
    finally:
        if proc.returncode is None:
            await _kill_group(proc)
    if code != 0:
        raise GitError(f"{name} failed (exit {code}): {errors[:_STDERR_TAIL_CHARS]}")
    return bytes(out)


@dataclass(frozen=True)
class GitLines:
    """The first lines a command wrote, and how it ended."""

    lines: list[bytes]  # each cut to the length asked for
    complete: bool  # False when the command had more to say and was stopped
    returncode: int | None
    stderr: str  # its start


async def git_lines(args: Sequence[str], *, cwd: Path, limit: int, max_line_bytes: int) -> GitLines:
    """Read at most `limit` lines of `git *args` (no credential), never holding more than that:
    a command with more to say is stopped. Cancelling (a caller's timeout) stops it too."""
    name = command_name(args)
    argv, env = git_command(args, cwd=cwd)
    proc = await _spawn(name, argv, cwd, env, asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[bytes] = []
    try:
        lines = await _read_lines(proc.stdout, limit + 1, max_line_bytes)
    finally:
        complete = len(lines) <= limit and proc.stdout.at_eof()
        if not complete:  # stopped reading early: git may block on a full pipe, end it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        errors = (await proc.stderr.read(4096)).decode(errors="replace").strip()
        await proc.wait()
    return GitLines(lines[:limit], complete, proc.returncode, errors)


async def _read_lines(stream: asyncio.StreamReader, limit: int, max_bytes: int) -> list[bytes]:
    """Up to `limit` lines, each cut to `max_bytes`; never holds more than that."""
    lines: list[bytes] = []
    partial = bytearray()
    while len(lines) < limit:
        chunk = await stream.read(_READ_CHUNK)
        if not chunk:
            if partial:
                lines.append(bytes(partial))
            break
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            partial += piece[:max_bytes]
            lines.append(bytes(partial))
            partial = bytearray()
        partial += rest[: max(0, max_bytes - len(partial))]
    return lines[:limit]


async def _spawn(
    name: str, argv: list[str], cwd: Path, env: dict[str, str], stdin: int
) -> asyncio.subprocess.Process:
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # own process group: a timeout kills helpers and aliases too
        )
    )
    try:
        # Shielded: cancelling asyncio's process creation midway can hang forever (CPython
        # 3.11, seen under load); let it finish, then kill what it started.
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        with contextlib.suppress(OSError):
            await _kill_group(await asyncio.shield(spawn))
        raise
    except OSError as exc:
        raise GitError(f"{name} could not start: {exc.strerror}") from None


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await asyncio.shield(proc.wait())

"""Repository manifests parsed in a short-lived child process, never in the worker's: a parser
fed hostile text can cost far more than its size (tomllib is quadratic on one long dotted key),
and the worker's event loop serves every activity and heartbeat it runs.

`parse_manifests` starts `sys.executable -I` on this module's `main` (the same `bot` package
the worker runs, found by its path, not by the environment), sends the texts as JSON on stdin
and reads the parsed `Manifests` back as JSON. The child sets its own limits first thing
(RLIMIT_CPU, RLIMIT_AS, no core files: no preexec_fn, the worker is threaded), gets an empty
environment and `/` as its directory; the worker kills its whole process group after
`PARSE_TIMEOUT_S` of wall time or once it has written more than `MAX_ANSWER_BYTES`. A child
stopped by a limit that measures the files (its CPU time, its memory, its answer's size) is
not an error: the files it was given are treated as invalid ones, noted with why
(bot/core/env_parsed.py `unreadable_manifests`). A child that ran out of wall time or was
killed by a signal of someone else's (the OOM killer, an operator) says nothing about the
files, only about a loaded worker: that is a retryable SandboxError, never a different plan
(and key) for the same files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from bot.core.env_parsed import (
    Manifests,
    manifests_from_data,
    manifests_to_data,
    read_manifests,
    unreadable_manifests,
)
from bot.errors import SandboxError

__all__ = ["CPU_SECONDS", "MAX_ANSWER_BYTES", "PARSE_TIMEOUT_S", "main", "parse_manifests"]

# Wall time: far above the CPU limit, so that only a worker loaded several times over reaches
# it (and is then tried again, not taken for a fact about the files).
PARSE_TIMEOUT_S = 15.0
CPU_SECONDS = 2  # a real manifest parses in milliseconds
MEMORY_BYTES = 512 * 1024 * 1024  # address space: the interpreter itself takes ~30 MiB
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_READ_CHUNK = 65536
# The package root the worker imported `bot` from: the child runs that same code.
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from bot.sandbox.manifest_child import main; sys.exit(main())"
)


async def parse_manifests(texts: Mapping[str, str | None], has_setup_py: bool) -> Manifests:
    """`read_manifests(texts, has_setup_py)`, computed in a child process within its limits;
    the files are treated as invalid ones (with a note) when they make it exceed them; a
    SandboxError when it ran out of wall time or was killed from outside."""
    if not texts:
        return read_manifests({}, has_setup_py)  # nothing to parse
    request = json.dumps({"texts": dict(texts), "has_setup_py": has_setup_py}).encode()
    answer, why = await _run_child(request)
    if answer is not None:
        try:
            return manifests_from_data(json.loads(answer))
        except ValueError:
            why = "its parser gave no valid answer"
    return unreadable_manifests(list(texts), has_setup_py, why)


async def _run_child(request: bytes) -> tuple[bytes | None, str]:
    """The child's answer (None when there is none), or why there is none."""
    proc = await _spawn()
    try:
        async with asyncio.timeout(PARSE_TIMEOUT_S):
            answer = await _exchange(proc, request)
            if answer is None:
                return None, f"its parser answered more than {MAX_ANSWER_BYTES} bytes"
            code = await proc.wait()
    except TimeoutError:
        raise SandboxError(
            f"the manifests' parser took longer than {PARSE_TIMEOUT_S:g} s (a loaded worker?)"
        ) from None
    finally:  # timed out, answered too much, or cancelled: leave no process behind
        await _kill(proc)
    return (answer, "") if code == 0 else (None, _exit_reason(code))


async def _spawn() -> asyncio.subprocess.Process:
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *(sys.executable, "-I", "-c", _BOOTSTRAP, _ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={},
            cwd="/",
            start_new_session=True,  # its own process group: killed as a whole
        )
    )
    try:
        # Shielded, as in bot/git/run.py: cancelling process creation midway can hang.
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        with contextlib.suppress(OSError):
            await _kill(await asyncio.shield(spawn))
        raise


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    await asyncio.shield(proc.wait())


async def _exchange(proc: asyncio.subprocess.Process, request: bytes) -> bytes | None:
    """Send `request`, then read the answer: None when it is over MAX_ANSWER_BYTES."""
    assert proc.stdin is not None and proc.stdout is not None
    with contextlib.suppress(ConnectionError):  # the child died early: its exit says why
        proc.stdin.write(request)
        await proc.stdin.drain()
        proc.stdin.close()
    answer = bytearray()
    while chunk := await proc.stdout.read(_READ_CHUNK):
        answer += chunk
        if len(answer) > MAX_ANSWER_BYTES:
            return None
    return bytes(answer)


def _exit_reason(code: int) -> str:
    """Why the files are unreadable; a SandboxError when the exit says nothing about them."""
    if code == -signal.SIGXCPU:
        return f"its parser used more than {CPU_SECONDS} s of CPU"
    if code < 0:
        raise SandboxError(f"the manifests' parser was killed (signal {-code})")
    return f"its parser failed (exit {code}, e.g. out of memory)"


# --- The child itself: runs in its own process, started by _run_child above. ---


def main() -> int:
    """Limit this process, then answer the JSON request on stdin with JSON on stdout."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    request = json.loads(sys.stdin.buffer.read())
    texts, has_setup_py = request["texts"], request["has_setup_py"]
    manifests = read_manifests(texts, bool(has_setup_py))
    sys.stdout.write(json.dumps(manifests_to_data(manifests)))
    return 0

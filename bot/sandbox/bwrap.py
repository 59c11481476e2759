"""Run repository commands (tests, setup, linters) under bubblewrap.

The sandbox has no network (own net namespace: only its own loopback), a read-only system
(/usr and the /bin, /lib* links or dirs, a few files of /etc, the worker's base Python
installation without its site-packages), a private /proc and /dev, and one writable directory:
the worktree, shown at /workspace (the same path in every sandbox, so a cached environment's
editable installs find the project). The worktree's `.git` entry is bound read-only over
itself: a command that could rewrite it could point the host's next git call at a config with
hooks or `core.fsmonitor` and escape. The repository's environment (bot/sandbox/mounts.py)
adds its mounts, variables and PATH entries; only the environment phase's setup gets a
writable one, and a way out (the egress bridge, bot/sandbox/egress_bridge.py).

No secret of the worker is visible inside. The command's environment is empty plus an allow-list
(PATH, HOME=/tmp, LANG, PYTHONDONTWRITEBYTECODE, TERM=dumb) and the caller's extra variables,
whose names must not look like secrets. prlimit and bwrap themselves are started with
`LAUNCHER_ENV` only (PATH), never the worker's environment: bwrap's own init is pid 1 inside and
its environ and cmdline are readable there, and the launcher's exec left nothing else of the
worker in its memory. Only bwrap's status pipe is passed on besides stdin (/dev/null) and one
output pipe (stdout and stderr alike: bwrap's init keeps its stderr open inside the sandbox, so
no separate channel may carry anything the app trusts); every other descriptor is closed.

"The sandbox could not start" (SandboxError) is decided from bwrap's status pipe alone
(sandbox/status.py): bwrap reports the command's exit there only when the sandbox was set up
and the command executed. No sandboxed code can write that pipe, so none can pass a failing
command off as a broken sandbox; output, which it can write, never decides anything.

Limits (set through `prlimit`, which execs bwrap, so no preexec_fn runs in a threaded worker):
wall time (the whole tree is killed: the sandbox's pid namespace dies with its init), RLIMIT_AS,
RLIMIT_CPU, RLIMIT_NPROC, RLIMIT_FSIZE (a write past `file_size_mb` gets SIGXFSZ, or EFBIG if the
writer ignores it), and a size for each of the private /tmp and /dev/shm tmpfs (RAM that
RLIMIT_AS does not count; /dev itself is read-only). The worktree's total size is bounded only
when the limits give a disk budget (bot/sandbox/disk_guard.py), else only each file's and the
disk's free space. The combined output is capped: the first quarter and the last three
quarters of the cap are kept (a test run's summary is at its end).
RLIMIT_NPROC does not bind uid 0 (the kernel exempts root). For a worker running as a normal
user the kernel counts every task of that uid (the worker's threads, other sandboxes): give the
worker its own uid and size `nproc` with that in mind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.argv import LAUNCHER_ENV, SandboxLimits, build_argv, probe_argv, sandbox_env
from bot.sandbox.disk_guard import DiskGuard
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment
from bot.sandbox.status import StatusPipe

__all__ = ["CommandResult", "run_sandboxed", "sandbox_available"]

_READ_CHUNK = 65536
FIRST = asyncio.FIRST_COMPLETED
# After a kill, how long to wait for the kernel to tear the pid namespace down.
_REAP_GRACE_S = 10.0
_LAUNCHER_TEXT_CHARS = 2000
_DEFAULT_LIMITS = SandboxLimits()


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_code: int | None
    output: str
    timed_out: bool
    truncated: bool
    duration_s: float
    killed: str = ""  # why the sandbox was stopped early, other than the time limit

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@functools.cache
def sandbox_available() -> bool:
    """Whether bwrap and prlimit exist and bwrap can build a sandbox on this host."""
    probe = probe_argv()
    if probe is None:
        return False
    try:
        done = subprocess.run(
            probe, capture_output=True, timeout=30, check=False, env=dict(LAUNCHER_ENV)
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


async def run_sandboxed(
    command: str,
    worktree: Path,
    *,
    limits: SandboxLimits = _DEFAULT_LIMITS,
    env: Mapping[str, str] | None = None,
    ro_binds: Sequence[Path] = (),
    environment: SandboxEnvironment = NO_ENVIRONMENT,
) -> CommandResult:
    """Run `command` with `/bin/sh -c` inside the sandbox, in `worktree` (at /workspace).

    `ro_binds` are extra host paths shown read-only at their own path; `environment` is the
    repository's (mounts, variables, PATH); the caller chooses them, never the repository.
    """
    # Every writable place the command has on the host's disks is watched for space.
    disks = [worktree, *(mount.source for mount in environment.mounts if mount.writable)]
    guard = DiskGuard(disks, limits)
    await guard.start()
    status_r, status_w = os.pipe()  # bwrap's status: its init's pid, the command's exit
    try:
        variables = sandbox_env({**environment.env, **(env or {})}, environment.path)
        mounts = environment.mounts
        argv = build_argv(command, worktree, limits, variables, ro_binds, status_w, mounts)
        start = time.monotonic()
        proc = await _launch(argv, status_w)
    except BaseException:
        os.close(status_r)
        raise
    finally:
        os.close(status_w)
    status = StatusPipe(status_r)
    try:
        watched = await _watch(proc, status, guard, limits)
        status.read()
    finally:
        os.close(status_r)
    return _result(command, proc.returncode, watched, status, time.monotonic() - start)


@dataclass
class _Watched:
    """What a sandbox left: its capped output, and why it was stopped."""

    output: _CappedOutput
    timed_out: bool = False
    killed: str = ""  # why it was stopped early, other than the time limit


async def _watch(
    proc: asyncio.subprocess.Process,
    status: StatusPipe,
    disks: DiskGuard,
    limits: SandboxLimits,
) -> _Watched:
    """Drain the sandbox's output until it exits; kill the whole tree at the time limit, or
    when it breaks a disk limit. Nothing of it is left running on return."""
    watched = _Watched(_CappedOutput(limits.output_bytes))
    assert proc.stdout is not None
    tasks = {
        asyncio.create_task(_drain(proc.stdout, watched.output)),
        waiter := asyncio.create_task(proc.wait()),
    }
    everything = asyncio.create_task(asyncio.wait(tasks))
    guard = asyncio.create_task(disks.broken())
    try:
        await asyncio.wait([everything, guard], timeout=limits.timeout_s, return_when=FIRST)
        if not all(task.done() for task in tasks):
            if guard.done():
                watched.killed = guard.result()
            watched.timed_out = not watched.killed and not waiter.done()
            await _kill_tree(proc, status)
        await asyncio.wait(tasks, timeout=_REAP_GRACE_S)
    finally:
        for watcher in (everything, guard):
            watcher.cancel()
        await asyncio.gather(everything, guard, return_exceptions=True)
        if proc.returncode is None:
            # Cancelled (or the kill did not finish): bwrap's --die-with-parent takes the
            # sandbox's init, and with it the whole pid namespace, down with bwrap.
            _kill_quietly(proc.pid)
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    return watched


def _result(
    command: str,
    returncode: int | None,
    watched: _Watched,
    status: StatusPipe,
    duration: float,
) -> CommandResult:
    stopped = watched.timed_out or bool(watched.killed)
    text, truncated = watched.output.text()
    if not status.command_started and not stopped:
        # No sandboxed code ran: the output is bwrap's or prlimit's own.
        said = text.strip()[-_LAUNCHER_TEXT_CHARS:] or "no message"
        raise SandboxError(f"bwrap could not start the sandbox (exit {returncode}): {said}")
    if watched.killed:
        text += f"\n[killed: {watched.killed}]"
    return CommandResult(
        command=command,
        exit_code=None if stopped else returncode,
        output=text,
        timed_out=watched.timed_out,
        truncated=truncated,
        duration_s=duration,
        killed=watched.killed,
    )


async def _launch(argv: list[str], status_fd: int) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one pipe: no channel the sandbox cannot write
            env=dict(LAUNCHER_ENV),  # never the worker's: the sandbox can read bwrap's
            close_fds=True,  # nothing of the worker's but the status pipe reaches bwrap
            pass_fds=(status_fd,),
            start_new_session=True,
        )
    except OSError as exc:
        raise SandboxError(f"cannot start bwrap: {exc}") from exc


class _CappedOutput:
    """Keeps the first and last bytes of a stream within a fixed budget."""

    def __init__(self, cap: int) -> None:
        self.head_cap = cap // 4
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > 2 * self.tail_cap:  # trim in batches: amortised O(1) per byte
            del self.tail[: len(self.tail) - self.tail_cap]

    def text(self) -> tuple[str, bool]:
        tail = bytes(self.tail[-self.tail_cap :]) if self.tail_cap else b""
        omitted = self.total - len(self.head) - len(tail)
        if omitted <= 0:
            return (bytes(self.head) + bytes(self.tail)).decode(errors="replace"), False
        marker = f"\n[... {omitted} bytes of output omitted ...]\n"
        return bytes(self.head).decode(errors="replace") + marker + tail.decode(
            errors="replace"
        ), True


async def _drain(stream: asyncio.StreamReader, capture: _CappedOutput) -> None:
    while chunk := await stream.read(_READ_CHUNK):
        capture.feed(chunk)


async def _kill_tree(proc: asyncio.subprocess.Process, status: StatusPipe) -> None:
    """Kill bwrap and wait until every process of its pid namespace is gone."""
    status.read()
    pidfd = _open_sandbox_init(status.child_pid)
    _kill_quietly(proc.pid)
    if pidfd is None:
        return
    try:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        # The namespace's init reports its exit only after the kernel has reaped all the
        # other processes of the namespace, so a readable pidfd means the whole tree is gone.
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, _settle, exited)
        try:
            await asyncio.wait_for(exited, _REAP_GRACE_S)
        except TimeoutError:
            pass
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _open_sandbox_init(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)

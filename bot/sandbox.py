"""Run repository commands (tests, setup, linters) under bubblewrap.

The sandbox has no network (own net namespace: only its own loopback), a read-only system
(/usr and the /bin, /lib* links or dirs, a few files of /etc, the Python installation the worker
runs in), a private /tmp, a private /proc and /dev, and one writable directory: the worktree,
bound at its own path so that paths in output match the paths on the host. The worktree's
`.git` entry is bound read-only over itself: a command that could rewrite it could point the
host's next git call at a config with hooks or `core.fsmonitor` and escape.

The environment is empty plus an allow-list (PATH, HOME=/tmp, LANG, PYTHONDONTWRITEBYTECODE,
TERM=dumb) and the caller's extra variables, whose names must not look like secrets.

Limits: wall time (the whole tree is killed: the sandbox's pid namespace dies with its init),
RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC (set through `prlimit`, which execs bwrap, so no preexec_fn
runs in a threaded worker), and the combined output is capped: the first quarter and the last
three quarters of the cap are kept (a test run's summary is at its end).
RLIMIT_NPROC does not bind uid 0 (the kernel exempts root). For a worker running as a normal
user the kernel counts every task of that uid (the worker's threads, other sandboxes): give the
worker its own uid and size `nproc` with that in mind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SandboxError

__all__ = ["CommandResult", "SandboxLimits", "run_sandboxed", "sandbox_available"]

_DENIED_NAME_PARTS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",  # Debian's /usr/bin/awk and friends point here
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",  # "localhost" must resolve for tests that serve on loopback
    "/etc/localtime",
)
_TOP_LEVEL_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_READ_CHUNK = 65536
# After a kill, how long to wait for the kernel to tear the pid namespace down.
_REAP_GRACE_S = 10.0


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 600
    memory_mb: int = 2048
    cpu_s: int = 900
    output_bytes: int = 65536
    nproc: int = 256


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_code: int | None
    output: str
    timed_out: bool
    truncated: bool
    duration_s: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@functools.cache
def sandbox_available() -> bool:
    """Whether bwrap and prlimit exist and bwrap can build a sandbox on this host."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if bwrap is None or prlimit is None:
        return False
    probe = [bwrap, "--unshare-all", "--cap-drop", "ALL", *_system_binds(), "--", "/bin/true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


async def run_sandboxed(
    command: str,
    worktree: Path,
    *,
    limits: SandboxLimits = SandboxLimits(),
    env: Mapping[str, str] | None = None,
    ro_binds: Sequence[Path] = (),
) -> CommandResult:
    """Run `command` with `/bin/sh -c` inside the sandbox, in `worktree`.

    `ro_binds` are extra host paths shown read-only at their own path (e.g. a worktree's git
    directory when the command needs git); the caller chooses them, never the repository.
    """
    sandbox_env = _sandbox_env(env)
    info_r, info_w = os.pipe()  # bwrap writes the pid of the sandbox's init here
    try:
        argv = _build_argv(command, worktree, limits, sandbox_env, ro_binds, info_w)
    except BaseException:
        os.close(info_r)
        os.close(info_w)
        raise
    start = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(info_w,),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(info_r)
        raise SandboxError(f"cannot start bwrap: {exc}") from exc
    finally:
        os.close(info_w)
    os.set_blocking(info_r, False)
    output, launcher_errors = _CappedOutput(limits.output_bytes), _CappedOutput(8192)
    assert proc.stdout is not None and proc.stderr is not None
    tasks = {
        asyncio.create_task(_drain(proc.stdout, output)),
        asyncio.create_task(_drain(proc.stderr, launcher_errors)),
        waiter := asyncio.create_task(proc.wait()),
    }
    timed_out = False
    try:
        await asyncio.wait(tasks, timeout=limits.timeout_s)
        if not all(task.done() for task in tasks):
            timed_out = not waiter.done()
            await _kill_tree(proc, info_r)
        await asyncio.wait(tasks, timeout=_REAP_GRACE_S)
    finally:
        if proc.returncode is None:
            # Cancelled (or the kill did not finish): bwrap's --die-with-parent takes the
            # sandbox's init, and with it the whole pid namespace, down with bwrap.
            _kill_quietly(proc.pid)
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        os.close(info_r)
    duration = time.monotonic() - start
    text, truncated = output.text()
    errors = launcher_errors.text()[0].strip()
    if errors and proc.returncode != 0 and not timed_out:
        raise SandboxError(f"bwrap could not start the sandbox: {errors}")
    return CommandResult(
        command=command,
        exit_code=None if timed_out else proc.returncode,
        output=text,
        timed_out=timed_out,
        truncated=truncated,
        duration_s=duration,
    )


def _sandbox_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    path = [str(Path(sys.prefix) / "bin")]
    if sys.base_prefix != sys.prefix:
        path.append(str(Path(sys.base_prefix) / "bin"))
    path += ["/usr/local/bin", "/usr/bin", "/bin"]
    values = {
        "PATH": ":".join(path),
        "HOME": "/tmp",  # private tmpfs: tool caches never land in the worktree's diff
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TERM": "dumb",
    }
    for name, value in (extra or {}).items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise SandboxError(f"invalid environment variable name or value: {name!r}")
        if any(part in name.upper() for part in _DENIED_NAME_PARTS):
            raise SandboxError(f"environment variable refused (looks like a secret): {name}")
        values[name] = value
    return values


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _TOP_LEVEL_LINKS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in _ETC_FILES:
        if os.path.lexists(name):
            args += ["--ro-bind-try", name, name]
    return args


def _python_dirs() -> list[str]:
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return sorted(p for p in prefixes if not Path(p).resolve().is_relative_to("/usr"))


def _build_argv(
    command: str,
    worktree: Path,
    limits: SandboxLimits,
    env: Mapping[str, str],
    ro_binds: Sequence[Path],
    info_fd: int,
) -> list[str]:
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if bwrap is None:
        raise SandboxError("bubblewrap is not installed (no `bwrap` on PATH)")
    if prlimit is None:
        raise SandboxError("util-linux `prlimit` is not installed")
    tree = worktree.resolve()
    if not tree.is_dir():
        raise SandboxError(f"worktree is not a directory: {worktree}")
    if any(Path(p).is_relative_to(tree) for p in ("/usr", "/etc", "/proc", *_python_dirs())):
        raise SandboxError(f"refusing to make a system directory writable: {tree}")
    args = [
        prlimit,
        f"--as={limits.memory_mb * 1024 * 1024}",
        f"--cpu={limits.cpu_s}",
        f"--nproc={limits.nproc}",
        "--core=0",  # no core files dropped into the worktree
        "--",
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        *_system_binds(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/dev/shm",
        "--tmpfs",
        "/tmp",
    ]
    for directory in _python_dirs():
        args += ["--ro-bind", directory, directory]
    args += ["--bind", str(tree), str(tree)]
    dot_git = tree / ".git"
    if dot_git.is_symlink():
        raise SandboxError(f"worktree's .git is a symlink, refusing to run in it: {tree}")
    if dot_git.exists():
        args += ["--ro-bind", str(dot_git), str(dot_git)]
    for extra in ro_binds:
        args += ["--ro-bind", str(extra), str(extra)]
    # The root itself is bwrap's scratch tmpfs: make it read-only too, once all mounts exist.
    args += ["--remount-ro", "/", "--chdir", str(tree), "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    # Inside, stderr joins stdout at once, so the outer stderr pipe carries only what bwrap or
    # prlimit say themselves: text there plus a failure status means the sandbox never started.
    launcher = 'exec /bin/sh -c "$1" 2>&1'
    args += ["--info-fd", str(info_fd), "--", "/bin/sh", "-c", launcher, "sh", command]
    return args


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


async def _kill_tree(proc: asyncio.subprocess.Process, info_r: int) -> None:
    """Kill bwrap and wait until every process of its pid namespace is gone."""
    pidfd = _open_sandbox_init(info_r)
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


def _open_sandbox_init(info_r: int) -> int | None:
    try:
        info = json.loads(os.read(info_r, 65536))
        return os.pidfd_open(int(info["child-pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)

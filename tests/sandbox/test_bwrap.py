"""The bubblewrap sandbox: confinement, environment, limits and output capping."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from bot.errors import SandboxError
from bot.sandbox.argv import SandboxLimits, base_site_packages
from bot.sandbox.bwrap import CommandResult, run_sandboxed, sandbox_available
from bot.sandbox.mounts import Mount, SandboxEnvironment

# In CI (CI=true) the sandbox must work: a skip there would hide a broken install.
pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    tree = tmp_path.resolve() / "wt"
    tree.mkdir()
    return tree


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _existing(paths: list[str]) -> list[str]:
    return [path for path in paths if os.path.lexists(path)]


async def test_exit_code_and_output_are_reported(worktree: Path) -> None:
    """Exit status and combined stdout+stderr come back; only exit 0 passes."""
    failed = await run_sandboxed("echo out; echo err >&2; exit 3", worktree)
    ok = await run_sandboxed("true", worktree)
    assert (failed.exit_code, failed.output, failed.passed) == (3, "out\nerr\n", False)
    assert (ok.exit_code, ok.passed, ok.timed_out, ok.truncated) == (0, True, False, False)


async def test_writes_in_worktree_are_visible_after(worktree: Path) -> None:
    """The worktree is writable, shown at /workspace, and is the working directory; its host
    path does not exist inside."""
    command = f"pwd; mkdir -p pkg && echo made > pkg/file.txt; ls {worktree} 2>&1 | wc -l"
    result = await run_sandboxed(command, worktree)
    assert result.output == "/workspace\n1\n"
    assert (worktree / "pkg" / "file.txt").read_text() == "made\n"


async def test_writes_outside_worktree_fail(worktree: Path, tmp_path: Path) -> None:
    """System dirs, /etc, the sandbox root and host dirs beside the worktree are not writable."""
    beside = tmp_path / "beside"
    beside.mkdir()
    probe = f"sandbox-probe-{uuid.uuid4().hex}"
    targets = [f"/usr/{probe}", f"/etc/{probe}", f"/{probe}", f"{beside}/{probe}"]
    for target in targets:
        result = await run_sandboxed(f"echo x > {target}", worktree)
        assert result.exit_code != 0, target
        assert "Read-only file system" in result.output or "nonexistent" in result.output
    assert _existing(targets) == []


async def test_home_and_tmp_are_private(worktree: Path) -> None:
    """HOME is the sandbox's own /tmp; files made there never reach the host."""
    name = f"sandbox-probe-{uuid.uuid4().hex}"
    result = await run_sandboxed(f'echo "$HOME"; echo x > /tmp/{name}; ls /tmp', worktree)
    assert result.passed, result.output
    assert result.output.splitlines()[0] == "/tmp"
    assert name in result.output
    assert not (Path("/tmp") / name).exists()
    assert not (Path.home() / name).exists()


async def test_dot_git_of_worktree_is_read_only(worktree: Path) -> None:
    """A command cannot rewrite the worktree's .git file to point host git elsewhere."""
    (worktree / ".git").write_text("gitdir: /srv/mirror/.git/worktrees/wt\n")
    result = await run_sandboxed("echo 'gitdir: /tmp/evil' > .git", worktree)
    assert result.exit_code != 0
    assert (worktree / ".git").read_text() == "gitdir: /srv/mirror/.git/worktrees/wt\n"


async def test_network_is_unreachable(worktree: Path) -> None:
    """A server listening on the host's loopback cannot be reached from inside."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        probe = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print(type(exc).__name__)\n"
        )
        result = await run_sandboxed(f'python -c "{probe}"', worktree)
        with pytest.raises(BlockingIOError):
            server.accept()
    assert result.output == "ConnectionRefusedError\n"


async def test_parent_secrets_are_not_visible(
    worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the allow-list reaches the sandbox, never the parent's secrets."""
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_parentsecret1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-parentsecret2")
    result = await run_sandboxed("env", worktree)
    names = {line.split("=", 1)[0] for line in result.output.splitlines()}
    assert names == {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "TERM", "PWD"}
    assert "parentsecret" not in result.output


async def test_extra_env_is_passed_and_secret_names_refused(worktree: Path) -> None:
    """Caller variables arrive inside; names that look like secrets are refused."""
    result = await run_sandboxed('echo "$GIT_AUTHOR_NAME"', worktree, env={"GIT_AUTHOR_NAME": "a"})
    assert result.output == "a\n"
    for name in ("GITHUB_TOKEN", "api_key", "MY_SECRET", "DB_PASSWORD"):
        with pytest.raises(SandboxError, match=name):
            await run_sandboxed("true", worktree, env={name: "v"})


async def test_python_inside_is_the_base_interpreter_without_packages(worktree: Path) -> None:
    """`python` inside is the worker's base interpreter; neither the app's virtualenv (its
    packages, its directory) nor the base installation's own site-packages are visible."""
    command = (
        "python -c 'import sys; print(sys.prefix)'; "
        'for m in githubkit temporalio pytest; do python -c "import $m" 2>&1 | tail -1; done; '
        f"ls {sys.prefix} 2>&1 | wc -l; ls {base_site_packages()[0]} | wc -l; "
        f"touch {base_site_packages()[0]}/x.pth 2>&1 | wc -l"
    )
    result = await run_sandboxed(command, worktree)
    assert result.output.splitlines() == [
        sys.base_prefix,
        "ModuleNotFoundError: No module named 'githubkit'",
        "ModuleNotFoundError: No module named 'temporalio'",
        "ModuleNotFoundError: No module named 'pytest'",
        "1",  # ls: cannot access the app's virtualenv
        "0",  # the base site-packages: an empty mount
        "1",  # ... which cannot be written
    ]


async def test_environment_mounts_variables_and_path(worktree: Path, tmp_path: Path) -> None:
    """A repository environment's mounts (read-only or writable, at the chosen target), its
    variables and its PATH entries reach the command; PATH starts with them."""
    env_dir = tmp_path / "env"
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "bin" / "hello").write_text("#!/bin/sh\necho hello from the env\n")
    (env_dir / "bin" / "hello").chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    environment = SandboxEnvironment(
        mounts=(Mount.at_own_path(env_dir), Mount(scratch, "/workspace/out", writable=True)),
        env={"VIRTUAL_ENV": str(env_dir)},
        path=(f"{env_dir}/bin",),
    )
    command = (
        'hello; echo "$VIRTUAL_ENV"; echo "${PATH%%:*}"; echo x > out/made; '
        f"(echo x > {env_dir}/nope) 2>/dev/null || echo read-only"
    )
    result = await run_sandboxed(command, worktree, environment=environment)
    assert result.output.splitlines() == [
        "hello from the env",
        str(env_dir),
        f"{env_dir}/bin",
        "read-only",
    ]
    assert (scratch / "made").read_text() == "x\n"
    assert not (env_dir / "nope").exists()


@pytest.mark.parametrize("target", ["relative", "/", "/proc", "/a/../b", "/dev/x", "/x/"])
def test_mount_targets_must_be_plain_and_outside_private_mounts(target: str) -> None:
    """A mount target is a normalised absolute path, never / nor under /proc or /dev."""
    with pytest.raises(SandboxError, match="mount target"):
        Mount(Path("/srv"), target)


async def test_timeout_kills_the_whole_tree(worktree: Path) -> None:
    """On timeout the command and a detached grandchild are gone when the call returns."""
    marker = f"{uuid.uuid4().int % 10_000}.{os.getpid()}"
    command = f"(sleep {marker} >/dev/null 2>&1 &); touch started; sleep 100"
    result = await run_sandboxed(command, worktree, limits=SandboxLimits(timeout_s=2))
    assert (result.timed_out, result.exit_code, result.passed) == (True, None, False)
    assert (worktree / "started").exists()
    assert _processes_with(f"sleep {marker}") == []


async def test_cancellation_kills_the_tree(worktree: Path) -> None:
    """Cancelling the call (a cancelled activity) leaves no sandboxed process behind."""
    marker = f"{uuid.uuid4().int % 10_000}.{os.getpid()}"
    task = asyncio.create_task(run_sandboxed(f"touch started; sleep {marker}", worktree))
    for _ in range(500):
        if (worktree / "started").exists() and _processes_with(f"sleep {marker}"):
            break
        await asyncio.sleep(0.02)
    assert _processes_with(f"sleep {marker}") != []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(500):  # SIGKILL is delivered, but the kernel reaps asynchronously
        if not _processes_with(f"sleep {marker}"):
            break
        await asyncio.sleep(0.02)
    assert _processes_with(f"sleep {marker}") == []


async def test_output_is_capped_head_and_tail(worktree: Path) -> None:
    """Long output keeps its first and last bytes with a marker saying how much was cut."""
    command = "python -c 'for i in range(100000): print(f\"line {i}\")'"
    result = await run_sandboxed(command, worktree, limits=SandboxLimits(output_bytes=1000))
    assert result.passed and result.truncated
    head, _, tail = result.output.partition("\n[... ")
    assert head.startswith("line 0\nline 1\n")
    assert tail.endswith("line 99999\n")
    assert "line 50000\n" not in result.output
    total = sum(len(f"line {i}\n") for i in range(100000))
    assert f"{total - 1000} bytes of output omitted" in tail
    assert len(head) + len(tail.partition("...]\n")[2]) == 1000


async def test_limits_are_applied(worktree: Path) -> None:
    """Memory, CPU, process-count and file-size limits are set on the sandboxed process."""
    limits = SandboxLimits(memory_mb=512, cpu_s=7, nproc=33, file_size_mb=5)
    result = await run_sandboxed("cat /proc/self/limits", worktree, limits=limits)
    rows = {line[:26].strip(): line[26:].split()[:2] for line in result.output.splitlines()}
    assert rows["Max address space"] == [str(512 * 1024 * 1024)] * 2
    assert rows["Max cpu time"] == ["7", "7"]
    assert rows["Max processes"] == ["33", "33"]
    assert rows["Max file size"] == [str(5 * 1024 * 1024)] * 2


async def test_default_limits_bound_file_and_tmpfs_sizes(worktree: Path) -> None:
    """Without explicit limits a file stops at 64 MiB and /tmp and /dev/shm hold 512 MiB."""
    command = "grep 'Max file size' /proc/self/limits; df -B1 --output=size /tmp /dev/shm"
    result = await run_sandboxed(command, worktree)
    lines = result.output.split("\n")
    assert lines[0].split()[3:5] == [str(64 * 1024 * 1024)] * 2
    assert [line.strip() for line in lines[2:4]] == [str(512 * 1024 * 1024)] * 2


async def test_a_file_cannot_grow_past_the_size_limit(worktree: Path) -> None:
    """A write past file_size_mb kills the writer with SIGXFSZ (shell status 153), or fails
    with EFBIG when the writer ignores the signal; the file stops at the limit, in the
    worktree and in /tmp alike."""
    limits = SandboxLimits(file_size_mb=1)
    ignoring = (
        "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "try:\n    open('/tmp/big', 'wb').write(bytes(3 << 20))\n"
        "except OSError as exc:\n    print(exc.strerror)\n"
    )
    command = (
        f'head -c 3M /dev/zero > big.bin; echo "status $?"; python -c "{ignoring}"; '
        "stat -c %s /tmp/big"
    )
    result = await run_sandboxed(command, worktree, limits=limits)
    assert result.output.splitlines()[-3:] == ["status 153", "File too large", str(1 << 20)]
    assert (worktree / "big.bin").stat().st_size == 1 << 20


@pytest.mark.parametrize("mount", ["/tmp", "/dev/shm"])
async def test_private_tmpfs_is_sized(worktree: Path, mount: str) -> None:
    """Files under one file-size limit still cannot fill /tmp or /dev/shm past tmpfs_mb (RAM
    that RLIMIT_AS does not count): the write fails with ENOSPC."""
    limits = SandboxLimits(tmpfs_mb=8, file_size_mb=3)
    command = f"for i in 1 2 3 4; do head -c 3M /dev/zero > {mount}/f$i || exit 7; done"
    result = await run_sandboxed(command, worktree, limits=limits)
    assert result.exit_code == 7
    assert "No space left on device" in result.output


async def test_dev_is_read_only_but_its_devices_work(worktree: Path) -> None:
    """/dev (an unsized tmpfs) takes no new files; /dev/null and /dev/shm still work."""
    command = "echo x > /dev/null && echo x > /dev/shm/ok && echo fine; echo x > /dev/fill"
    result = await run_sandboxed(command, worktree)
    assert result.output.startswith("fine\n")
    assert "Read-only file system" in result.output
    assert result.exit_code != 0


async def test_memory_limit_stops_a_large_allocation(worktree: Path) -> None:
    """An allocation beyond memory_mb fails inside the sandbox."""
    command = "python -c 'bytearray(600 * 1024 * 1024)'"
    result = await run_sandboxed(command, worktree, limits=SandboxLimits(memory_mb=256))
    assert result.exit_code == 1
    assert "MemoryError" in result.output


async def test_bwrap_failure_raises_sandbox_error(worktree: Path, tmp_path: Path) -> None:
    """A sandbox bwrap cannot build is a SandboxError carrying bwrap's reason."""
    with pytest.raises(SandboxError, match="Can't find source path"):
        await run_sandboxed("true", worktree, ro_binds=[tmp_path / "missing"])


async def test_missing_bwrap_raises_sandbox_error(
    worktree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without bwrap on PATH the error says so."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="bwrap"):
        await run_sandboxed("true", worktree)


@pytest.mark.parametrize("tree", ["/", "/usr"])
async def test_system_dirs_are_refused_as_worktree(tree: str) -> None:
    """A worktree that would make the system writable is refused."""
    with pytest.raises(SandboxError, match="system directory"):
        await run_sandboxed("true", Path(tree))


def test_passed_needs_zero_exit_and_no_timeout() -> None:
    """`passed` is false for a timed-out result even without an exit code."""
    result = CommandResult("x", None, "", timed_out=True, truncated=False, duration_s=1.0)
    assert not result.passed


async def test_a_command_is_killed_when_the_disk_runs_low(worktree: Path) -> None:
    """Files under the size limit can still fill the disk: below the free-space floor the
    whole sandbox is killed at once and the result says why."""
    free_mb = shutil.disk_usage(worktree).free // (1024 * 1024)
    limits = SandboxLimits(timeout_s=30, min_free_disk_mb=free_mb + 1024 * 1024)
    started = time.monotonic()
    result = await run_sandboxed("sleep 20; echo survived", worktree, limits=limits)
    assert time.monotonic() - started < 10
    assert result.killed.startswith("fewer than")
    assert result.exit_code is None and not result.timed_out and not result.passed
    assert "survived" not in result.output
    assert result.output.endswith(f"[killed: {result.killed}]")

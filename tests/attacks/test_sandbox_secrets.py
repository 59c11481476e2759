"""A sandboxed command reads everything of every process it can see (environ, cmdline, memory,
open files): no secret of the worker is among it."""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.argv import LAUNCHER_ENV
from bot.sandbox.bwrap import run_sandboxed, sandbox_available

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)

# Runs inside the sandbox. It holds no canary itself: it copies all it can read into a dump file
# in the worktree, and the test searches that dump on the host.
PROBE = r'''
import json, os, stat, sys

CAP = 1 << 20
me = str(os.getpid())
dump = open(sys.argv[1], "wb")
fds = {}


def read(path, limit=CAP):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""


def memory(pid):
    """Every readable mapping of the process (where its environ and argv strings live)."""
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb")
    except OSError:
        return
    with mem:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            if "r" not in perms or end - start > 64 * CAP:
                continue
            try:
                mem.seek(start)
                dump.write(mem.read(end - start))
            except (OSError, OverflowError, ValueError):
                pass


for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    base = f"/proc/{pid}"
    for task in os.listdir(f"{base}/task") if os.path.isdir(f"{base}/task") else []:
        for name in ("environ", "cmdline", "comm"):
            dump.write(read(f"{base}/task/{task}/{name}"))
    for name in os.listdir(base):
        path = f"{base}/{name}"
        if name not in ("mem", "pagemap", "clear_refs") and os.path.isfile(path):
            dump.write(read(path))
    links = fds.setdefault(pid, [])
    for fd in os.listdir(f"{base}/fd") if os.access(f"{base}/fd", os.R_OK) else []:
        try:
            links.append(os.readlink(f"{base}/fd/{fd}"))
            if stat.S_ISREG(os.stat(f"{base}/fd/{fd}").st_mode):
                dump.write(read(f"{base}/fd/{fd}"))  # an inherited file: read what it holds
        except OSError:
            pass
    if pid != me:
        memory(pid)
dump.close()
print(json.dumps({"me": me, "fds": fds}))
'''


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Secrets in the worker's own environment, under the app's names and a random one."""
    values = {
        "GITHUB_PRIVATE_KEY": f"-----BEGIN RSA PRIVATE KEY-----\ncanary-pem-{secrets.token_hex(12)}",
        "GITHUB_WEBHOOK_SECRET": f"canary-whsec-{secrets.token_hex(12)}",
        "ANTHROPIC_API_KEY": f"sk-ant-canary-{secrets.token_hex(12)}",
        f"ORCH_CANARY_{secrets.token_hex(4).upper()}": f"canary-any-{secrets.token_hex(12)}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    # The values, and each name with a distinctive value (the name alone may be a common word).
    yield [v.rsplit("\n", 1)[-1] for v in values.values()] + [n for n in values if "CANARY" in n]


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    tree = tmp_path.resolve() / "wt"
    tree.mkdir()
    (tree / "probe.py").write_text(PROBE)
    return tree


async def _probe(worktree: Path) -> tuple[bytes, dict[str, object]]:
    result = await run_sandboxed("python probe.py dump.bin", worktree)
    assert result.passed, result.output
    return (worktree / "dump.bin").read_bytes(), json.loads(result.output)


async def test_no_process_in_the_sandbox_holds_a_worker_secret(
    worktree: Path, canaries: list[str]
) -> None:
    """Environ, cmdline, task environs, /proc files and the memory of every process visible in
    the sandbox (bwrap's pid 1 included) carry none of the worker's secrets."""
    dump, _ = await _probe(worktree)
    assert b"HOME=/tmp" in dump  # the environs were read: the probe saw the shell's
    assert len(dump) > 1_000_000  # and the processes' memory, not just their /proc files
    for canary in canaries:
        assert canary.encode() not in dump, canary


async def test_shell_commands_see_no_worker_secret(worktree: Path, canaries: list[str]) -> None:
    """What an agent would type (`cat /proc/*/environ`, `env`, /proc/1) shows no secret."""
    command = (
        "cat /proc/*/environ /proc/*/cmdline /proc/*/task/*/environ; env; "
        "cat /proc/1/environ /proc/1/cmdline /proc/1/status; ls -la /proc/1/ /proc/1/fd/"
    )
    result = await run_sandboxed(command, worktree)
    assert result.passed, result.output
    assert "HOME=/tmp" in result.output
    for canary in canaries:
        assert canary not in result.output


async def test_pid_one_has_the_launcher_environment_only(
    worktree: Path, canaries: list[str]
) -> None:
    """bwrap's init inside the sandbox has exactly the launcher's environment."""
    result = await run_sandboxed("cat /proc/1/environ", worktree)
    entries = [entry for entry in result.output.split("\0") if entry]
    assert entries == [f"{name}={value}" for name, value in LAUNCHER_ENV.items()]


async def test_no_descriptor_of_the_worker_reaches_the_sandbox(
    worktree: Path, tmp_path: Path, canaries: list[str]
) -> None:
    """An inheritable descriptor the worker holds open (a secret file) is not in the sandbox:
    its processes hold only /dev/null, pipes and bwrap's own eventfd."""
    secret_file = tmp_path / f"secret-{uuid.uuid4().hex}.pem"
    secret_file.write_text(canaries[0])
    fd = os.open(secret_file, os.O_RDONLY)
    os.set_inheritable(fd, True)
    try:
        dump, report = await _probe(worktree)
    finally:
        os.close(fd)
    assert canaries[0].encode() not in dump
    fds = report["fds"]
    assert isinstance(fds, dict)
    others = [link for pid, links in fds.items() if pid != report["me"] for link in links]
    assert others  # bwrap's init and the shell were seen
    allowed = re.compile(r"/dev/null|pipe:\[\d+\]|anon_inode:\[?eventfd\]?")
    assert [link for link in others if not allowed.fullmatch(link)] == []
    assert str(secret_file) not in json.dumps(fds)

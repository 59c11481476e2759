"""The environment phase's setup run, and the view of a built environment that later sandboxes
get.

Setup: the plan's steps (bot/core/env_detect.py) run by /bin/sh in the sandbox, in a throwaway
worktree at /workspace, one after another until one fails. What it may write: the worktree,
the environment directory (bound writable at its own host path: virtualenv scripts carry
absolute shebangs) and node_modules there (shown at /workspace/node_modules), and a scratch
directory on the worker's disk (shown at /scratch: TMPDIR, HOME and the package caches), made
for this setup and deleted after it. What it may read besides the system: the snapshot's git
metadata (read-only: hatch-vcs and setuptools-scm read the version from it), the worker's CA
bundle. The network: only the egress proxy (bot/sandbox/egress_proxy.py), started for this run
on a socket in a private directory, reached through the bridge; the sandbox keeps its own
network namespace. Its limits are larger than an agent command's (time, address space, each
file's size), and its own.

Memory: a tmpfs is RAM (shmem) that RLIMIT_AS does not count and that the kernel charges to
the worker's memory cgroup, not to any process of the sandbox, so the OOM killer picks the
worker. Setup's /tmp and /dev/shm therefore stay at the default size of every sandbox (512 MiB
each, at most 1 GiB pinned per setup), and what builds write in bulk (wheels, sdists, compiler
scratch, caches) goes to /scratch, on disk. Disk: the worktree, the environment and /scratch
together may grow by at most the build budget (`disk_budget_mb`: half of the cache's size,
bot/sandbox/env_cache.py), and the disk keeps its free-space floor (bot/sandbox/disk_guard.py).

Later: the environment directory read-only at the same path, node_modules read-only at
/workspace/node_modules, the plan's variables and PATH entries; no network.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.egress_policy import EgressPolicy, printable
from bot.core.env_detect import SetupPlan
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import run_sandboxed
from bot.sandbox.egress_bridge import egress_sandbox
from bot.sandbox.egress_proxy import EgressProxy
from bot.sandbox.env_cache import Environment
from bot.sandbox.env_disk import wipe
from bot.sandbox.held_dirs import held_dir, private_dir, sweep_abandoned
from bot.sandbox.mounts import WORKSPACE, Mount, SandboxEnvironment

__all__ = [
    "SCRATCH",
    "SetupOutcome",
    "SetupRun",
    "environment_view",
    "run_setup",
    "setup_limits",
    "socket_parent",
]

SCRATCH = "/scratch"
_MIB_PER_GIB = 1024
_CA_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


def setup_limits(timeout_minutes: float, disk_budget_mb: int = 0) -> SandboxLimits:
    """Setup's own limits: its timeout, room for large wheels per file, what it may write
    to disk in all (0: only the free-space floor); /tmp and /dev/shm as any sandbox's."""
    return SandboxLimits(
        timeout_s=timeout_minutes * 60,
        memory_mb=8 * _MIB_PER_GIB,  # address space: node and rustc reserve much more than use
        cpu_s=int(timeout_minutes * 60) + 60,
        output_bytes=256 * 1024,
        nproc=512,
        file_size_mb=2 * _MIB_PER_GIB,
        disk_budget_mb=disk_budget_mb,
    )


@dataclass(frozen=True)
class SetupRun:
    """One setup: `worktree` (a throwaway one of the revision), `git_dirs` to show read-only
    at their own paths, the environment to build into, and what the proxy lets through."""

    worktree: Path
    git_dirs: tuple[Path, ...]
    environment: Environment
    plan: SetupPlan
    policy: EgressPolicy
    limits: SandboxLimits
    python: str  # the base interpreter, for the bridge
    socket_root: Path  # where the proxy's private socket directory is made (short path)
    pip_index_url: str | None = None
    npm_registry_url: str | None = None
    ca_bundle: Path | None = None
    scratch: Path | None = None  # must not exist; default: a fresh one beside the worktree


@dataclass(frozen=True)
class SetupOutcome:
    passed: bool
    output: str  # capped by the limits
    egress: tuple[str, ...]  # the proxy's summary: one line per destination, printable
    duration_s: float
    timed_out: bool = False
    killed: str = ""  # why the sandbox stopped it early (a disk limit), else empty
    upstream_faults: tuple[str, ...] = ()  # what failed at allowed hosts (egress_faults.py)


def environment_view(
    environment: Environment, plan: SetupPlan, *, writable: bool = False
) -> SandboxEnvironment:
    """How sandboxed commands see a built environment (writable only for its setup)."""
    mounts = [Mount.at_own_path(environment.path, writable=writable)]
    for name in plan.worktree_mounts:
        mounts.append(Mount(environment.directory(name), f"{WORKSPACE}/{name}", writable))
    return SandboxEnvironment(tuple(mounts), dict(plan.env), plan.path)


async def run_setup(run: SetupRun) -> SetupOutcome:
    """Run the plan's steps; the outcome holds the output and what the proxy decided."""
    started = time.monotonic()
    scratch = run.scratch or run.worktree.parent / f"scratch-{uuid.uuid4().hex[:12]}"
    async with _private_socket_dir(run.socket_root) as directory, _scratch(scratch) as on_disk:
        socket_path = directory / "egress.sock"
        proxy = EgressProxy(run.policy)
        async with proxy.serving(socket_path):
            egress = egress_sandbox(
                socket_path,
                run.python,
                pip_index_url=run.pip_index_url,
                npm_registry_url=run.npm_registry_url,
            )
            bridge = SandboxEnvironment(_mounts(egress.bwrap_args), egress.env)
            environment = environment_view(run.environment, run.plan, writable=True)
            environment = environment.plus(bridge).plus(_git_and_ca(run)).plus(on_disk)
            result = await run_sandboxed(
                egress.wrap(script(run.plan)),
                run.worktree,
                limits=run.limits,
                environment=environment,
            )
        egress_lines = tuple(printable(line, 300) for line in proxy.summary())
        faults = tuple(printable(line, 300) for line in proxy.upstream_faults())
    return SetupOutcome(
        passed=result.passed,
        output=result.output,
        egress=egress_lines,
        duration_s=time.monotonic() - started,
        timed_out=result.timed_out,
        killed=result.killed,
        upstream_faults=faults,
    )


def script(plan: SetupPlan) -> str:
    """The steps as one shell script: each echoed, then run; the first failure ends it."""
    lines = []
    for step in plan.steps:
        line = step.command_line()
        command = f"/bin/sh -c {shlex.quote(step.script)}" if step.script else line
        lines.append(f"printf '%s\\n' {shlex.quote('$ ' + line)}")
        lines.append(f"{command} || exit $?")
    return "\n".join(lines) + "\n"


def _git_and_ca(run: SetupRun) -> SandboxEnvironment:
    mounts = [Mount.at_own_path(directory) for directory in run.git_dirs]
    env: dict[str, str] = {}
    if run.ca_bundle is not None:
        mounts.append(Mount.at_own_path(run.ca_bundle))
        env = dict.fromkeys(_CA_VARIABLES, str(run.ca_bundle))
    return SandboxEnvironment(tuple(mounts), env)


def _mounts(bwrap_args: Sequence[str]) -> tuple[Mount, ...]:
    """The bridge's `--ro-bind source target` triples as mounts."""
    triples = [bwrap_args[i : i + 3] for i in range(0, len(bwrap_args), 3)]
    return tuple(Mount(Path(source), target) for _flag, source, target in triples)


@contextlib.asynccontextmanager
async def _scratch(path: Path) -> AsyncIterator[SandboxEnvironment]:
    """`path` made for one setup (on the worker's disk, not RAM) and shown writable at
    /scratch, where TMPDIR, HOME and the package caches point; deleted afterwards."""
    path.mkdir(mode=0o700)
    places = {"TMPDIR": "tmp", "HOME": "home", "XDG_CACHE_HOME": "cache"}
    for name in places.values():
        (path / name).mkdir()
    env = {variable: f"{SCRATCH}/{name}" for variable, name in places.items()}
    env |= {"TMP": env["TMPDIR"], "TEMP": env["TMPDIR"]}
    try:
        yield SandboxEnvironment((Mount(path, SCRATCH, writable=True),), env)
    finally:
        await asyncio.to_thread(wipe, path)  # GiBs of wheels and caches: not on the loop


@contextlib.asynccontextmanager
async def _private_socket_dir(root: Path) -> AsyncIterator[Path]:
    """A fresh 0700 directory with a short path (a UNIX socket path must fit in 107 bytes),
    held while the proxy serves there (bot/sandbox/held_dirs.py), in this user's own
    directory of `root`, where what killed setups left is swept first."""
    mine = await asyncio.to_thread(socket_parent, root)
    await asyncio.to_thread(sweep_abandoned, mine)
    async with held_dir(mine / f"eg{uuid.uuid4().hex[:8]}") as directory:
        yield directory


def socket_parent(root: Path) -> Path:
    """This user's directory of proxy socket directories in `root` (shared, e.g. /tmp)."""
    return private_dir(root / f"orch-{os.getuid()}")

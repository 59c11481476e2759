"""The setup run: its steps in order until one fails (each echoed), its limits, the proxy's
decisions in the outcome, and how later sandboxes see what it built."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.core.egress_policy import EgressPolicy
from bot.core.env_detect import SetupPlan, SetupStep
from bot.errors import SandboxError
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import run_sandboxed, sandbox_available
from bot.sandbox.env_cache import EnvironmentCache
from bot.sandbox.env_setup import SetupRun, environment_view, run_setup, script, setup_limits
from bot.sandbox.mounts import Mount, base_python

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)
KEY = "0" * 64


def test_the_script_echoes_each_step_and_stops_at_the_first_failure() -> None:
    """argv steps run as written (quoted by the plan), a setup_command by its own shell; each
    is echoed first and a failure's status ends the script."""
    plan = SetupPlan(
        steps=(
            SetupStep(("/usr/bin/python3", "-m", "venv", "/e/venv")),
            SetupStep(script="make 'x'"),
        )
    )
    assert script(plan) == (
        "printf '%s\\n' '$ /usr/bin/python3 -m venv /e/venv'\n"
        "/usr/bin/python3 -m venv /e/venv || exit $?\n"
        "printf '%s\\n' '$ make '\"'\"'x'\"'\"''\n"
        "/bin/sh -c 'make '\"'\"'x'\"'\"'' || exit $?\n"
    )


def test_setup_limits_are_larger_than_a_command_s() -> None:
    """Its own timeout, room for large wheels per file and its disk budget; its RAM-backed
    /tmp and /dev/shm no larger than any sandbox's (bulk writes go to disk)."""
    limits = setup_limits(20, disk_budget_mb=300)
    assert (limits.timeout_s, limits.file_size_mb, limits.disk_budget_mb) == (1200, 2048, 300)
    assert limits.tmpfs_mb == SandboxLimits().tmpfs_mb == 512
    assert limits.memory_mb == 8192 and limits.output_bytes == 256 * 1024


async def test_a_setup_writes_its_environment_reaches_nothing_unlisted_and_reports_it(
    tmp_path: Path,
) -> None:
    """The steps run in order in the worktree (at /workspace) and write the environment and
    node_modules; a destination off the list gets the proxy's 403 and is in the outcome's
    summary; the first failing step ends the setup with its status."""
    worktree = tmp_path / "wt"
    worktree.mkdir()
    fetch = (
        "import urllib.request\n"
        "try:\n    urllib.request.urlopen('http://example.org/', timeout=10)\n"
        "except OSError as exc:\n    print('fetch:', exc)\n"
    )
    cache = EnvironmentCache(tmp_path / "envs", max_bytes=1 << 30)
    async with cache.environment("scope", KEY) as environment:
        env = str(environment.path)
        plan = SetupPlan(
            steps=(
                SetupStep(script=f"pwd; echo made > {env}/file; echo js > node_modules/m.js"),
                SetupStep((base_python(), "-c", fetch)),
                SetupStep(script="exit 7"),
                SetupStep(script="echo never"),
            ),
            worktree_mounts=("node_modules",),
        )
        outcome = await run_setup(
            SetupRun(
                worktree=worktree,
                git_dirs=(),
                environment=environment,
                plan=plan,
                policy=EgressPolicy.build([]),
                limits=setup_limits(1),
                python=base_python(),
                socket_root=Path("/tmp"),
            )
        )
        assert (environment.path / "file").read_text() == "made\n"
        assert (environment.path / "node_modules" / "m.js").read_text() == "js\n"
    assert not outcome.passed and not outcome.timed_out
    lines = outcome.output.splitlines()
    assert lines[1] == "/workspace" and "fetch: HTTP Error 403: Forbidden" in lines
    assert lines[-1] == "$ exit 7" and "never" not in outcome.output
    assert [line.split(" (")[0] for line in outcome.egress] == ["refused example.org:80"]
    assert not (worktree / "node_modules" / "m.js").exists()
    assert not environment.path.exists()  # a build that did not finish is wiped at once


async def test_later_sandboxes_see_the_environment_read_only(tmp_path: Path) -> None:
    """node_modules is shown at /workspace/node_modules, read-only, with the plan's variables
    and PATH; a node_modules the build replaced by a symlink is refused."""
    worktree = tmp_path / "wt"
    worktree.mkdir()
    cache = EnvironmentCache(tmp_path / "envs", max_bytes=1 << 30)
    async with cache.environment("scope", KEY) as environment:
        (environment.path / "node_modules").mkdir()
        (environment.path / "node_modules" / "m.js").write_text("js\n")
        plan = SetupPlan(
            steps=(SetupStep(script="true"),),
            env={"NODE_ENV": "test"},
            path=(f"{environment.path}/node_modules/.bin",),
            worktree_mounts=("node_modules",),
        )
        view = environment_view(environment, plan)
        assert view.mounts == (
            Mount(environment.path, str(environment.path)),
            Mount(environment.path / "node_modules", "/workspace/node_modules"),
        )
        command = 'cat node_modules/m.js; echo "$NODE_ENV"; (touch node_modules/x) 2>/dev/null || echo read-only'
        result = await run_sandboxed(command, worktree, environment=view)
        assert result.output.splitlines() == ["js", "test", "read-only"]
        (environment.path / "node_modules").rename(environment.path / "moved")
        (environment.path / "node_modules").symlink_to("/etc")
        with pytest.raises(SandboxError, match="not a directory"):
            environment_view(environment, plan)


async def test_setup_scratch_is_on_disk_and_its_tmpfs_stays_small(tmp_path: Path) -> None:
    """TMPDIR, HOME and the caches are a scratch directory on disk: 300 MiB written there
    adds no shared memory (RAM no limit counts); /tmp is the small tmpfs of every sandbox,
    full (ENOSPC) well before 600 MiB; the scratch directory is gone afterwards."""
    worktree, scratch = tmp_path / "wt", tmp_path / "scratch"
    worktree.mkdir()
    shmem = "awk '/^Shmem:/ {print $2}' /proc/meminfo"
    steps = (
        'echo "$TMPDIR $HOME $XDG_CACHE_HOME"; stat -f -c %T "$TMPDIR" /tmp',
        f'before=$({shmem}); head -c 300M /dev/zero > "$TMPDIR/blob"; after=$({shmem})',
        'echo "shmem grew $(( (after - before) / 1024 )) MiB"',
        "(head -c 600M /dev/zero > /tmp/blob) 2>&1 || echo /tmp is full",
    )
    cache = EnvironmentCache(tmp_path / "envs", max_bytes=1 << 30)
    async with cache.environment("scope", KEY) as environment:
        outcome = await run_setup(
            SetupRun(
                worktree=worktree,
                git_dirs=(),
                environment=environment,
                plan=SetupPlan(steps=(SetupStep(script="; ".join(steps)),)),
                policy=EgressPolicy.build([]),
                limits=setup_limits(1),
                python=base_python(),
                socket_root=Path("/tmp"),
                scratch=scratch,
            )
        )
    lines = outcome.output.splitlines()
    assert lines[1] == "/scratch/tmp /scratch/home /scratch/cache", lines
    assert lines[2] != "tmpfs" and lines[3] == "tmpfs"  # TMPDIR on disk, /tmp in RAM
    grew = int(lines[4].split()[2])
    assert grew < 100, lines  # other processes of the host may move it a little
    assert "No space left on device" in lines[5] and lines[6] == "/tmp is full"
    assert not scratch.exists()

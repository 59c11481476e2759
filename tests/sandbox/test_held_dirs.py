"""Held work directories: deleted with their lock on exit; a sweep deletes those whose holder
died (SIGKILL) and never one a live process holds, never follows a link out, and leaves alone
what was not made as a held directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.errors import SandboxError
from bot.sandbox.held_dirs import held_dir, private_dir, sweep_abandoned, sweep_abandoned_below

REPO_ROOT = Path(__file__).resolve().parents[2]
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from bot.sandbox.held_dirs import held_dir

    async def main():
        async with held_dir(Path(sys.argv[1])) as path:
            (path / "blob").write_bytes(b"x" * 4096)
            (path / "out").symlink_to(sys.argv[2])
            print("ready", flush=True)
            await asyncio.sleep(600)

    asyncio.run(main())
    """
)


def holder(path: Path, outside: Path) -> subprocess.Popen[bytes]:
    """A process holding `path` (a link in it points at `outside`), once it holds it."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(outside)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    return child


def stop(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.stdout is not None
    child.stdout.close()


async def test_a_held_directory_goes_with_its_lock_however_the_block_ends(tmp_path: Path) -> None:
    """Made fresh, deleted on exit with its lock file, also when the block raises."""
    with pytest.raises(RuntimeError):
        async with held_dir(tmp_path / "run" / "a") as path:
            (path / "deep" / "er").mkdir(parents=True)
            raise RuntimeError("the work failed")
    assert list((tmp_path / "run").iterdir()) == []


async def test_a_sweep_deletes_only_what_dead_processes_held(tmp_path: Path) -> None:
    """Two holders, one SIGKILLed: the sweep deletes the dead one's directory and lock file
    (not what its link points at) and leaves the live one's; a directory that was never
    held (no lock file) is not the sweep's."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    work = tmp_path / "work"
    (work / "run" / "not-held").mkdir(parents=True)
    dead, live = work / "run" / "dead", work / "run" / "live"
    stop(holder(dead, outside))
    alive = holder(live, outside)
    try:
        assert (dead / "blob").exists()
        assert sweep_abandoned_below(work) == [dead]
        assert sorted(os.listdir(work / "run")) == ["live", "live.held", "not-held"]
        assert (live / "blob").exists() and (outside / "keep").exists()
    finally:
        stop(alive)
    assert sweep_abandoned(work / "run") == [live]
    assert sorted(os.listdir(work / "run")) == ["not-held"]


async def test_a_sweep_removes_empty_run_directories(tmp_path: Path) -> None:
    """A run's directory left empty (its work done or swept) goes; a missing root is none."""
    async with held_dir(tmp_path / "work" / "run-1" / "a"):
        pass
    assert sweep_abandoned_below(tmp_path / "work") == []
    assert list((tmp_path / "work").iterdir()) == []
    assert sweep_abandoned_below(tmp_path / "missing") == []


def test_a_private_directory_is_this_users_alone(tmp_path: Path) -> None:
    """Made 0700; a link in its place or one open to others (another user in /tmp) is
    refused."""
    assert oct(private_dir(tmp_path / "mine").stat().st_mode & 0o777) == oct(0o700)
    (tmp_path / "link").symlink_to(tmp_path / "mine")
    with pytest.raises(SandboxError, match="is not a directory of this user"):
        private_dir(tmp_path / "link")
    (tmp_path / "open").mkdir(mode=0o777)
    (tmp_path / "open").chmod(0o777)
    with pytest.raises(SandboxError, match="is open to other users"):
        private_dir(tmp_path / "open")

"""The worker's start: what killed processes left under its data directory and in the socket
root is swept before it takes work; what live ones hold is not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.app.worker import sweep_after_crashes
from bot.sandbox.bwrap import sandbox_available
from bot.sandbox.env_setup import socket_parent
from tests.activities.test_workspace import BRANCH, remote_repo
from tests.attacks.hostile_git import plain_git
from tests.support.held_worker import (
    SETUP_STARTED,
    hold,
    kill,
    registered,
    setup_options,
    setup_started,
    short_socket_root,
)

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)


socket_root = pytest.fixture(short_socket_root)


async def test_the_start_sweeps_what_killed_processes_left(
    tmp_path: Path, socket_root: Path
) -> None:
    """A setup and an agent SIGKILLed mid-work leave worktrees (registered in the mirrors),
    scratch and a proxy's socket directory; the worker's start deletes all of it and the
    mirrors forget those worktrees, while another live process's worktree stays."""
    data, remote = tmp_path / "data", remote_repo(tmp_path)
    revision = plain_git(Path(remote.url), "rev-parse", BRANCH).strip()
    mirrors, sockets = data / "git", socket_parent(socket_root)
    dead, live = data / "work" / "run-1" / "x-a1", data / "work" / "run-1" / "y-a1"
    alive = hold("workdir", mirrors, remote.url, BRANCH, live)
    try:
        kill(hold("workdir", mirrors, remote.url, BRANCH, dead))
        kill(
            hold(
                "setup", data, remote.url, revision, socket_root, ready=lambda: setup_started(data)
            )
        )
        [setup] = [path for path in (data / "work" / "setup").iterdir() if path.is_dir()]
        [socket_dir] = [path for path in sockets.iterdir() if path.is_dir()]
        assert worktrees(mirrors) == sorted([dead, live, setup / "tree"])
        assert (setup / "scratch" / "tmp" / SETUP_STARTED).stat().st_size == 1 << 20
        assert (socket_dir / "egress.sock").is_socket()

        await sweep_after_crashes(data, setup_options(data, socket_root))

        assert not dead.exists() and not setup.exists() and not socket_dir.exists()
        assert not (data / "work" / "setup").exists()  # left empty: removed
        assert list(sockets.iterdir()) == []
        assert worktrees(mirrors) == [live]
        assert (live / "work.txt").read_text() == "half done\n"
    finally:
        kill(alive)


def worktrees(cache_root: Path) -> list[Path]:
    """The worktrees all mirrors of the cache record."""
    return sorted(
        path for mirror in cache_root.glob("mirrors/*.git") for path in registered(mirror)
    )

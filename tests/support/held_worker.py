"""A process that uses work directories the way a worker does, then waits to be SIGKILLed:
what it leaves is what a killed worker leaves (tests of the sweeps); and the tests' side.

    python -m tests.support.held_worker workdir <mirror cache> <remote url> <branch> <path>
        an agent's worktree at <path>, a file written in it, then "ready" and a long wait
    python -m tests.support.held_worker setup <data dir> <repo> <revision> <socket root>
        a setup of <repo> at <revision> whose command writes into its scratch and waits
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.activities.environment import EnvironmentOptions, Environments
from bot.activities.inputs import EnvironmentSpec
from bot.activities.workspace import checked_out
from bot.app.local_forge import LocalForge
from bot.core.egress_allow import EgressAllowList
from bot.core.remote import Remote
from bot.core.targets import CommentKind, RepoRef, Target
from bot.git.mirror import MirrorCache
from tests.attacks.hostile_git import plain_git

# The setup command's mark that it runs (in its scratch: $TMPDIR).
SETUP_STARTED = "setup-started"
LOCAL_TARGET = Target(
    installation_id=0,
    repo=RepoRef(id=0, owner="local", name="repo"),
    issue_number=0,
    comment_kind=CommentKind.ISSUE,
    comment_id=0,
)


def hold(*arguments: object, ready: Callable[[], bool] | None = None) -> subprocess.Popen[str]:
    """This module as a process, once it is ready: once `ready()` holds, else once it says
    so."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.held_worker", *map(str, arguments)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.stdout is not None
    if ready is None:
        assert child.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 60
    while ready is not None and not ready():
        assert child.poll() is None and time.monotonic() < deadline, "it never got ready"
        time.sleep(0.05)
    return child


def kill(child: subprocess.Popen[str]) -> None:
    """SIGKILL, as the OOM killer does: no handler, no `finally`, runs."""
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.stdout is not None
    child.stdout.close()


def registered(mirror: Path) -> list[Path]:
    """The worktrees `mirror` records (those whose directory is gone too, until pruned)."""
    listed = plain_git(mirror, "worktree", "list", "--porcelain").splitlines()
    return [Path(line.removeprefix("worktree ")) for line in listed[1:] if "worktree " in line]


def short_socket_root() -> Iterator[Path]:
    """A short socket root of a test's own (a UNIX socket's path is short): a fixture."""
    path = Path(tempfile.mkdtemp(prefix="so", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def setup_started(data_dir: Path) -> bool:
    """Whether a setup under `data_dir` runs its command (see `hold_setup`)."""
    return any(data_dir.glob(f"work/setup/setup-*/scratch/tmp/{SETUP_STARTED}"))


def setup_options(data_dir: Path, socket_root: Path) -> EnvironmentOptions:
    """Environments under `data_dir` with no host allowed (the setups here need none)."""
    return EnvironmentOptions(
        allow=EgressAllowList(trusted=()),
        cache_root=data_dir.absolute() / "envs",
        max_bytes=1 << 30,
        work_root=data_dir.absolute() / "work" / "setup",
        socket_root=socket_root,
    )


async def hold_workdir(cache: str, url: str, branch: str, path: str) -> None:
    remote = Remote(url, scope="local/test")
    async with checked_out(MirrorCache(Path(cache)), remote, branch, Path(path)) as tree:
        (tree.path / "work.txt").write_text("half done\n")
        print("ready", flush=True)
        await asyncio.sleep(600)


async def hold_setup(data_dir: str, repo: str, revision: str, socket_root: str) -> None:
    options = setup_options(Path(data_dir), Path(socket_root))
    environments = Environments(
        LocalForge(Path(repo)), MirrorCache(Path(data_dir) / "git"), options
    )
    command = f'head -c 1M /dev/zero > "$TMPDIR/{SETUP_STARTED}"; sleep 600'
    spec = EnvironmentSpec(target=LOCAL_TARGET, revision=revision, setup_command=command)
    async with environments.ensure(spec):
        pass


if __name__ == "__main__":
    kind, *arguments = sys.argv[1:]
    asyncio.run(hold_workdir(*arguments) if kind == "workdir" else hold_setup(*arguments))

"""`Environments.ensure` against a real repository, bwrap and the local index (no Temporal):
what defines an environment is read from git objects, nothing runs when nothing is detected or
the allow-list is refused, git metadata is readable during setup and the environment read-only
after, concurrent callers build once, a commit the mirror lacks is fetched."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from bot.activities.environment import EnvironmentOptions, Environments
from bot.activities.inputs import EnvironmentSpec
from bot.app.local_forge import LocalForge
from bot.core.egress_allow import EgressAllowList
from bot.core.environment import EnvironmentStatus
from bot.core.targets import CommentKind, RepoRef, Target
from bot.errors import GitError
from bot.git.mirror import MirrorCache
from bot.sandbox.bwrap import run_sandboxed, sandbox_available
from bot.sandbox.env_disk import disk_usage
from bot.sandbox.env_setup import socket_parent
from bot.sandbox.mounts import NO_ENVIRONMENT
from tests.support.environments import local_environment
from tests.support.held_worker import (
    hold,
    kill,
    registered,
    setup_options,
    setup_started,
    short_socket_root,
)
from tests.support.pyindex import FIXTURE_DEP, shared_index

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)
TARGET = Target(
    installation_id=0,
    repo=RepoRef(id=0, owner="local", name="repo"),
    issue_number=0,
    comment_kind=CommentKind.ISSUE,
    comment_id=0,
)


def _commit(repo: Path, files: dict[str, str], links: dict[str, str] | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "d",
        "GIT_AUTHOR_EMAIL": "d@x",
        "GIT_COMMITTER_NAME": "d",
    }
    env["GIT_COMMITTER_EMAIL"] = "d@x"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    for name, target in (links or {}).items():
        (repo / name).symlink_to(target)
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "change"], cwd=repo, env=env, check=True)
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True)
    return out.stdout.decode().strip()


def _environments(
    tmp_path: Path, repo: Path, options: EnvironmentOptions | None = None
) -> Environments:
    data = tmp_path / "data"
    return Environments(
        LocalForge(repo), MirrorCache(data / "git"), options or local_environment(data)
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


async def test_nothing_detected_is_an_empty_environment_and_starts_nothing(
    tmp_path: Path, repo: Path
) -> None:
    """No manifests, or only a symlink named like one (not a regular file in git): nothing to
    set up, no cache directory, no process; the view adds nothing."""
    revision = _commit(repo, {"README.md": "hi\n"}, links={"pyproject.toml": "/etc/passwd"})
    environments = _environments(tmp_path, repo)
    async with environments.ensure(EnvironmentSpec(target=TARGET, revision=revision)) as ready:
        assert ready.report.status is EnvironmentStatus.NONE
        assert ready.report.revision == revision
        assert ready.view == NO_ENVIRONMENT
    assert not environments.options.cache_root.exists()
    assert not environments.options.work_root.exists()


async def test_a_repository_entry_outside_the_cap_fails_before_any_process(
    tmp_path: Path, repo: Path
) -> None:
    """network.allow naming a host the operator does not let repositories add: a failed
    report saying so, and no setup."""
    revision = _commit(repo, {"requirements.txt": f"{FIXTURE_DEP.name}\n"})
    index = shared_index()
    options = local_environment(tmp_path / "data", index)
    capped = EnvironmentOptions(
        **{**options.__dict__, "allow": EgressAllowList((f"127.0.0.1:{index.port}",), cap=())}
    )
    spec = EnvironmentSpec(target=TARGET, revision=revision, network_allow=["example.org"])
    async with _environments(tmp_path, repo, capped).ensure(spec) as ready:
        assert ready.report.status is EnvironmentStatus.FAILED
        assert ready.report.error == (
            "network.allow entry 'example.org' is outside what this app's operator lets "
            "repositories allow (ORCHESTRATE_NETWORK_ALLOW_REPOS)"
        )
    assert not capped.work_root.exists()


async def test_setup_reads_git_metadata_and_later_commands_cannot_write_the_environment(
    tmp_path: Path, repo: Path
) -> None:
    """A setup command can ask git about its commit (as setuptools-scm does) while the
    environment is writable; later sandboxes see it read-only at the same path."""
    revision = _commit(repo, {"README.md": "hi\n"})
    command = 'git rev-parse HEAD > "$VIRTUAL_ENV/revision"; git status --porcelain | wc -l >> "$VIRTUAL_ENV/revision"'
    spec = EnvironmentSpec(target=TARGET, revision=revision, setup_command=command)
    async with _environments(tmp_path, repo).ensure(spec) as ready:
        assert ready.report.status is EnvironmentStatus.BUILT, ready.report
        probe = (
            'cat "$VIRTUAL_ENV/revision"; (touch "$VIRTUAL_ENV/x") 2>/dev/null || echo read-only'
        )
        result = await run_sandboxed(probe, repo, environment=ready.view)
    assert result.output.splitlines() == [revision, "0", "read-only"]


async def test_concurrent_callers_build_once_and_a_missing_commit_is_fetched(
    tmp_path: Path, repo: Path
) -> None:
    """Two callers of one definition at once: one builds, the other finds it built (the index
    is asked by one setup only). A commit made after the mirror synced is fetched; one that
    does not exist is a GitError."""
    index = shared_index()
    first = _commit(repo, {"requirements.txt": f"{FIXTURE_DEP.name}\n"})
    environments = _environments(tmp_path, repo)
    spec = EnvironmentSpec(target=TARGET, revision=first)
    before = index.downloads.count(FIXTURE_DEP.filename)

    async def use() -> EnvironmentStatus:
        async with environments.ensure(spec) as ready:
            return ready.report.status

    statuses = await asyncio.gather(use(), use())
    assert sorted(statuses) == [EnvironmentStatus.BUILT, EnvironmentStatus.CACHED]
    assert index.downloads.count(FIXTURE_DEP.filename) == before + 1

    second = _commit(repo, {"requirements.txt": f"{FIXTURE_DEP.name}\norchestrate-bench-9\n"})
    async with environments.ensure(spec.model_copy(update={"revision": second})) as ready:
        assert ready.report.status is EnvironmentStatus.BUILT
        assert ready.report.revision == second
    with pytest.raises(GitError, match="is not in the repository"):
        async with environments.ensure(spec.model_copy(update={"revision": "f" * 40})):
            pass


def _capped(tmp_path: Path, max_mb: int) -> EnvironmentOptions:
    options = local_environment(tmp_path / "data")
    return EnvironmentOptions(**{**options.__dict__, "max_bytes": max_mb * 1024 * 1024})


async def test_failed_setups_leave_no_bytes_in_the_cache(tmp_path: Path, repo: Path) -> None:
    """Three failing setups of different definitions, each having written 30 MiB into its
    environment and scratch: nothing of them is left in the cache or the work directory."""
    options = _capped(tmp_path, 200)
    environments = _environments(tmp_path, repo, options)
    command = (
        'head -c 15M /dev/zero > "$VIRTUAL_ENV/blob"; head -c 15M /dev/zero > "$TMPDIR/t"; exit 1'
    )
    for version in range(3):
        revision = _commit(repo, {"requirements.txt": f"# v{version}\n"})
        spec = EnvironmentSpec(target=TARGET, revision=revision, setup_command=command)
        async with environments.ensure(spec) as ready:
            assert ready.report.status is EnvironmentStatus.FAILED
            assert ready.report.error == "the setup failed"
    assert disk_usage(options.cache_root) < 64 * 1024  # directories and lock files only
    assert list(options.work_root.iterdir()) == []


async def test_a_setup_that_grows_past_the_budget_is_stopped_and_leaves_nothing(
    tmp_path: Path, repo: Path
) -> None:
    """A cache of 100 MiB lets a build write 50 MiB: a setup that keeps writing is stopped
    within seconds (not at its timeout) with that reason, and its bytes are gone."""
    options = _capped(tmp_path, 100)
    revision = _commit(repo, {"README.md": "hi\n"})
    command = (
        'for i in 1 2 3 4 5 6 7 8; do head -c 10M /dev/zero > "$VIRTUAL_ENV/f$i"; done; sleep 50'
    )
    spec = EnvironmentSpec(target=TARGET, revision=revision, setup_command=command)
    async with _environments(tmp_path, repo, options).ensure(spec) as ready:
        report = ready.report
    assert report.status is EnvironmentStatus.FAILED
    assert report.error == "the environment grew past 50 MiB (half of ORCHESTRATE_ENV_CACHE_MB)"
    assert report.duration_s < 30
    assert report.output_tail.endswith("[killed: the files it wrote grew past 50 MiB]")
    assert disk_usage(options.cache_root) < 64 * 1024
    assert list(options.work_root.iterdir()) == []


socket_root = pytest.fixture(short_socket_root)


async def test_a_killed_setups_leftovers_are_swept_before_the_next_setup(
    tmp_path: Path, repo: Path, socket_root: Path
) -> None:
    """A setup SIGKILLed mid-run leaves its worktree (registered in the mirror), its scratch
    and its proxy's socket directory; the next setup deletes them all and the mirror forgets
    the worktree."""
    data, revision = tmp_path / "data", _commit(repo, {"README.md": "hi\n"})
    kill(hold("setup", data, repo, revision, socket_root, ready=lambda: setup_started(data)))
    options = setup_options(data, socket_root)
    [left] = [path for path in options.work_root.iterdir() if path.is_dir()]
    [mirror] = list((data / "git").glob("mirrors/*.git"))
    assert registered(mirror) == [left / "tree"]
    assert any(path.is_dir() for path in socket_parent(socket_root).iterdir())
    environments = Environments(LocalForge(repo), MirrorCache(data / "git"), options)
    spec = EnvironmentSpec(target=TARGET, revision=revision, setup_command="true")
    async with environments.ensure(spec) as ready:
        assert ready.report.status is EnvironmentStatus.BUILT
    assert list(options.work_root.iterdir()) == []
    assert list(socket_parent(socket_root).iterdir()) == []
    assert registered(mirror) == []

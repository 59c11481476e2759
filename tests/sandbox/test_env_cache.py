"""The environment cache on a real disk: hits and misses, one build per key across tasks and
processes, crashed builds, LRU eviction that spares what is in use, hostile scope names."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.errors import SandboxError
from bot.sandbox.env_cache import EnvironmentCache, scope_dir_name

KEY_A, KEY_B, KEY_C = ("a" * 64, "b" * 64, "c" * 64)
REPO_ROOT = Path(__file__).resolve().parents[2]


def _cache(root: Path, max_bytes: int = 1 << 40) -> EnvironmentCache:
    return EnvironmentCache(root, max_bytes=max_bytes, poll_interval_s=0.01)


async def _build(cache: EnvironmentCache, scope: str, key: str, size: int = 0) -> Path:
    async with cache.environment(scope, key) as env:
        assert not env.ready
        (env.path / "blob").write_bytes(os.urandom(size) if size else b"x")
        await env.mark_complete()
        return env.path


async def test_miss_then_hit(tmp_path: Path) -> None:
    """The first use builds at the final path; the next finds it ready, contents intact."""
    cache = _cache(tmp_path)
    path = await _build(cache, "acme/app", KEY_A)
    async with cache.environment("acme/app", KEY_A) as env:
        assert (env.ready, env.path, (env.path / "blob").read_bytes()) == (True, path, b"x")
    assert path == tmp_path / scope_dir_name("acme/app") / KEY_A


async def test_failed_build_leaves_no_complete_and_is_wiped(tmp_path: Path) -> None:
    """A build that raises is not complete; the next builder starts from an empty dir."""
    cache = _cache(tmp_path)
    with pytest.raises(RuntimeError):
        async with cache.environment("s", KEY_A) as env:
            (env.path / "half").write_text("x")
            raise RuntimeError("setup failed")
    async with cache.environment("s", KEY_A) as env:
        assert not env.ready
        assert list(env.path.iterdir()) == []


async def test_two_tasks_build_once(tmp_path: Path) -> None:
    """Concurrent users of one key in one process: one builds, the other waits and reuses."""
    cache = _cache(tmp_path)
    builds = []

    async def use(name: str) -> bool:
        async with cache.environment("s", KEY_A) as env:
            if not env.ready:
                builds.append(name)
                await asyncio.sleep(0.3)
                await env.mark_complete()
                await asyncio.sleep(0.3)  # still in use by the builder: the other goes on
                return False
            return True

    results = await asyncio.gather(use("one"), use("two"))
    assert len(builds) == 1
    assert sorted(results) == [False, True]


def test_two_processes_build_once(tmp_path: Path) -> None:
    """Two worker processes opening one key at once build it once (flock across processes)."""
    log = tmp_path / "log"
    command = [
        sys.executable,
        "-m",
        "tests.support.envcache_worker",
        str(tmp_path / "envs"),
        "acme/app",
        KEY_A,
        str(log),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [subprocess.Popen(command, env=env, cwd=REPO_ROOT) for _ in range(2)]
    assert [p.wait(timeout=60) for p in processes] == [0, 0]
    lines = log.read_text().splitlines()
    builders = [line.split()[1] for line in lines if line.startswith("built")]
    assert len(builders) == 1
    assert sorted(line for line in lines if line.startswith("ready")) == [
        f"ready {p.pid} built by {builders[0]}" for p in sorted(processes, key=lambda p: p.pid)
    ]


async def test_builder_killed_mid_build(tmp_path: Path) -> None:
    """A builder process killed mid-build releases its locks and leaves no `complete`; the
    next user rebuilds from an empty directory."""
    root = tmp_path / "envs"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.envcache_worker",
        str(root),
        "s",
        KEY_A,
        str(tmp_path / "log"),
        "--crash",
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"building\n"
    finally:
        process.kill()
        await process.wait()
    path = root / scope_dir_name("s") / KEY_A
    assert (path / "partial").exists()
    assert not (path.parent / f"{KEY_A}.complete").exists()
    async with asyncio.timeout(10), _cache(root).environment("s", KEY_A) as env:
        assert not env.ready
        assert list(env.path.iterdir()) == []


async def test_lru_eviction_order_and_in_use_protection(tmp_path: Path) -> None:
    """Over the limit, the least recently used complete environments go first; one in use
    is never removed; the newest survives when the limit allows."""
    cache = _cache(tmp_path, max_bytes=1 << 40)
    paths = {key: await _build(cache, "s", key, size=64 * 1024) for key in (KEY_A, KEY_B, KEY_C)}
    for age, key in enumerate((KEY_C, KEY_A, KEY_B)):  # B oldest, then A, C newest
        marker = paths[key].parent / f"{key}.complete"
        os.utime(marker, (1000.0 - age * 100, 1000.0 - age * 100))
    cache.max_bytes = 2 * 70 * 1024  # room for two
    assert await cache.evict() == [paths[KEY_B]]
    assert not paths[KEY_B].exists() and paths[KEY_A].exists() and paths[KEY_C].exists()
    cache.max_bytes = 0
    async with cache.environment("s", KEY_A) as env:
        assert env.ready
        assert await cache.evict() == [paths[KEY_C]]
        assert (env.path / "blob").exists()
    assert await cache.evict() == [paths[KEY_A]]
    assert sorted(p.name for p in (tmp_path / scope_dir_name("s")).iterdir()) == []


async def test_using_refreshes_last_use(tmp_path: Path) -> None:
    """A hit records its time, so a recently used environment outlives an older one."""
    cache = _cache(tmp_path)
    a = await _build(cache, "s", KEY_A, 4096)
    b = await _build(cache, "s", KEY_B, 4096)
    for key, path in ((KEY_A, a), (KEY_B, b)):
        os.utime(path.parent / f"{key}.complete", (1000.0, 1000.0))
    async with cache.environment("s", KEY_A):
        pass
    cache.max_bytes = 6 * 1024  # room for one
    assert await cache.evict() == [b]


async def test_abandoned_incomplete_build_is_evicted(tmp_path: Path) -> None:
    """A failed build's directory is removed by eviction even within the limit."""
    cache = _cache(tmp_path)
    with pytest.raises(RuntimeError):
        async with cache.environment("s", KEY_A) as env:
            raise RuntimeError("boom")
    assert await cache.evict() == [env.path]
    assert not env.path.exists()


async def test_wipe_handles_hostile_trees(tmp_path: Path) -> None:
    """A failed build that left a read-only directory, a symlink out and a very deep tree is
    wiped without touching the symlink's target."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    cache = _cache(tmp_path / "envs")
    with pytest.raises(RuntimeError):
        async with cache.environment("s", KEY_A) as env:
            (env.path / "ro").mkdir()
            (env.path / "ro" / "f").write_text("x")
            (env.path / "ro").chmod(0o500)
            (env.path / "out").symlink_to(outside)
            _deep_tree(env.path, 1500)
            raise RuntimeError("left a mess")
    async with cache.environment("s", KEY_A) as env:
        assert list(env.path.iterdir()) == []
    assert (outside / "keep").read_text() == "keep"
    assert [p.name for p in env.path.parent.iterdir() if p.name.startswith(".trash")] == []


def _deep_tree(top: Path, depth: int) -> None:
    """Nested directories deeper than PATH_MAX allows to name from the top."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)


@pytest.mark.parametrize(
    "scope",
    [
        "../../etc",
        "/abs/path",
        "..",
        ".",
        "a/b",
        "a-b",
        "inst 1 / Acme / App",
        "x" * 1000,
        "ünïcode/ repo",
        "$(id)`id`",
    ],
)
def test_hostile_scope_names_stay_inside_the_root(tmp_path: Path, scope: str) -> None:
    """Any scope string maps to one plain directory directly under the root."""
    path = _cache(tmp_path).path_for(scope, KEY_A)
    assert path.parent.parent == tmp_path
    assert path.parent.name == scope_dir_name(scope)
    assert all(ch.isalnum() or ch == "-" for ch in path.parent.name)


def test_similar_scopes_get_different_dirs() -> None:
    """Scopes whose readable slugs coincide still get their own directories."""
    names = {scope_dir_name(s) for s in ("a/b", "a-b", "A/B", "a b", "a--b")}
    assert len(names) == 5


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        ("", KEY_A),
        ("s\0t", KEY_A),
        ("x" * 1001, KEY_A),
        ("s", "A" * 64),
        ("s", "../" + "a" * 61),
        ("s", "a" * 63),
    ],
)
def test_invalid_scopes_and_keys_are_refused(tmp_path: Path, scope: str, key: str) -> None:
    """Empty, NUL-containing or overlong scopes and anything but 64 lowercase hex keys fail."""
    with pytest.raises(SandboxError):
        _cache(tmp_path).path_for(scope, key)


async def test_subdirectories_to_bind_are_real_directories(tmp_path: Path) -> None:
    """A directory of the environment that will be a bind source is made when missing and
    refused when a build turned it into a symlink (bwrap would follow it on the host)."""
    async with _cache(tmp_path / "envs").environment("s", KEY_A) as env:
        assert env.directory("node_modules") == env.path / "node_modules"
        assert env.directory("node_modules").is_dir()
        (env.path / "evil").symlink_to("/etc")
        with pytest.raises(SandboxError, match="evil in the environment is not a directory"):
            env.directory("evil")
        for name in ("", "a/b", "..", "."):
            with pytest.raises(SandboxError, match="not a plain directory name"):
                env.directory(name)


async def test_a_build_first_evicts_unused_environments_to_make_room(tmp_path: Path) -> None:
    """Before a build starts, the least recently used environments go until the cache has
    the build's budget (half its size) to spare; one in use stays, the next oldest goes."""
    cache = _cache(tmp_path, max_bytes=200 * 1024)  # a build may write 100 KiB
    paths = {key: await _build(cache, "s", key, size=64 * 1024) for key in (KEY_A, KEY_B)}
    for age, key in enumerate((KEY_B, KEY_A)):  # A older than B
        os.utime(paths[key].parent / f"{key}.complete", (1000.0 - age, 1000.0 - age))
    paths[KEY_C] = await _build(cache, "s", KEY_C, size=64 * 1024)
    assert not paths[KEY_A].exists() and paths[KEY_B].exists()
    os.utime(paths[KEY_B].parent / f"{KEY_B}.complete", (900.0, 900.0))  # B older than C
    async with cache.environment("s", KEY_B) as in_use:
        assert in_use.ready
        async with cache.environment("s", "d" * 64) as building:
            assert not building.ready
            assert paths[KEY_B].exists() and not paths[KEY_C].exists()


async def test_a_finished_environment_keeps_no_set_id_bits(tmp_path: Path) -> None:
    """mark_complete clears setuid and setgid on the environment's files and directories
    (a set-id program built as the worker's user is a way up for anyone on the host); a
    link is not followed out of the environment."""
    outside = tmp_path / "outside"
    outside.write_text("x")
    outside.chmod(0o4755)
    cache = _cache(tmp_path / "envs")
    async with cache.environment("s", KEY_A) as env:
        tool = env.path / "bin" / "tool"
        tool.parent.mkdir()
        tool.write_text("x")
        tool.chmod(0o6755)
        tool.parent.chmod(0o2755)
        (env.path / "link").symlink_to(outside)
        await env.mark_complete()
    assert oct(tool.stat().st_mode & 0o7777) == oct(0o755)
    assert oct(tool.parent.stat().st_mode & 0o7777) == oct(0o755)
    assert oct(outside.stat().st_mode & 0o7777) == oct(0o4755)


async def test_completing_a_large_environment_keeps_the_event_loop_running(
    tmp_path: Path,
) -> None:
    """mark_complete walks a 100k-file environment in a thread: the worker's event loop
    (every activity's heartbeat) never stalls for 0.2 s meanwhile."""
    cache = _cache(tmp_path)
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    async with cache.environment("s", KEY_A) as env:
        await asyncio.to_thread(_many_files, env.path, 100_000)
        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        lags.clear()
        started = time.monotonic()
        await env.mark_complete()
        took = time.monotonic() - started
        ticking.cancel()
    assert env.ready and _sibling_exists(env.path, ".complete")
    assert took > 0.2, "too few files to show a stall"
    assert max(lags) < 0.2, f"the loop stalled for {max(lags):.2f} s"


def _many_files(top: Path, count: int) -> None:
    for directory in range(100):
        place = top / f"pkg{directory}"
        place.mkdir()
        for name in range(count // 100):
            (place / f"f{name}.py").touch()


def _sibling_exists(path: Path, suffix: str) -> bool:
    return path.with_name(path.name + suffix).exists()


async def test_a_cancel_while_completing_leaves_a_consistent_environment(tmp_path: Path) -> None:
    """A build cancelled while its marker is being written waits for the walk: the marker
    is written and the environment kept (never a marker for a wiped directory)."""
    cache = _cache(tmp_path)
    completing = asyncio.Event()

    async def build() -> None:
        async with cache.environment("s", KEY_A) as env:
            await asyncio.to_thread(_many_files, env.path, 100_000)
            completing.set()
            await env.mark_complete()
            await asyncio.sleep(60)

    building = asyncio.create_task(build())
    await completing.wait()
    await asyncio.sleep(0.05)  # inside the walk (it takes longer: see the test above)
    building.cancel()
    with pytest.raises(asyncio.CancelledError):
        await building
    async with cache.environment("s", KEY_A) as env:
        assert env.ready
        assert len(list((env.path / "pkg99").iterdir())) == 1000

"""`define` against real git objects with hostile manifests: a parser-complexity attack neither
stalls the worker's event loop nor takes longer than the parse limits, many large requirements
files are never read into the worker, and the key follows each input's blob."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import tracemalloc
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from bot.activities.env_revision import Defined, define
from bot.core.env_detect import WorkerTools
from bot.git.run import GitRunner

T = TypeVar("T")
TOOLS = WorkerTools("/usr/bin/python3", "3.11.7", {})
MIB = 1024 * 1024
# One long dotted key: tomllib takes ~30 s of CPU on this (quadratic); the child gets 2.
DOTTED = "a" + ".a" * 50_000 + " = 1\n"
UNREADABLE = "pyproject.toml could not be read ({}): extras and groups ignored"
REASONS = ("its parser used more than 2 s of CPU",)


def _commit(repo: Path, files: dict[str, str | bytes]) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "d", "GIT_AUTHOR_EMAIL": "d@x"}
    env |= {"GIT_COMMITTER_NAME": "d", "GIT_COMMITTER_EMAIL": "d@x"}
    repo.mkdir(exist_ok=True)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (repo / name).write_bytes(data)
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "change"], cwd=repo, env=env, check=True)
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True)
    return out.stdout.decode().strip()


async def _define(repo: Path, revision: str) -> Defined:
    git = GitRunner()
    return await define(
        git, repo / ".git", revision, tools=TOOLS, setup_command=None, allow=(), sources={}
    )


async def _with_loop_lag(work: Awaitable[T]) -> tuple[T, float]:
    """`work`'s result and the longest the event loop was kept from a 20 ms timer meanwhile."""
    worst = 0.0

    async def tick() -> None:
        nonlocal worst
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.02)
            worst = max(worst, time.monotonic() - started - 0.02)

    ticker = asyncio.create_task(tick())
    try:
        return await work, worst
    finally:
        ticker.cancel()


async def test_a_pathological_pyproject_is_treated_as_invalid_without_stalling_the_loop(
    tmp_path: Path,
) -> None:
    """A 100 KB dotted key: define returns within seconds, the loop never lags 0.5 s, the
    pyproject counts as invalid (setup.py still installs the project, with a note why)."""
    revision = _commit(tmp_path / "repo", {"pyproject.toml": DOTTED, "setup.py": ""})
    started = time.monotonic()
    defined, lag = await _with_loop_lag(_define(tmp_path / "repo", revision))
    assert time.monotonic() - started < 10
    assert lag < 0.5
    (note,) = defined.plan.notes
    assert note in [UNREADABLE.format(reason) for reason in REASONS]
    assert [step.argv[-2:] for step in defined.plan.steps][-1] == ("-e", ".")
    assert defined.plan.inputs == ("pyproject.toml", "setup.py")


async def test_many_large_requirements_files_are_never_read_into_the_worker(
    tmp_path: Path,
) -> None:
    """20 requirements files of 5 MiB: the key is computed from git's blob ids (under 2 MiB
    allocated meanwhile), the first 16 are installed, the rest ignored with a note; changing
    one installed file changes the key, changing an ignored one does not."""
    files: dict[str, str | bytes] = {
        f"requirements-{i:02d}.txt": b"#" * (5 * MIB) + f"\n{i}\n".encode() for i in range(20)
    }
    repo = tmp_path / "repo"
    first = _commit(repo, files)
    tracemalloc.start()
    try:
        defined = await _define(repo, first)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MIB
    assert defined.plan.inputs == tuple(f"requirements-{i:02d}.txt" for i in range(16))
    assert defined.plan.notes == ("ignored 4 requirements file(s) after the first 16",)
    ignored_changed = _commit(repo, {"requirements-19.txt": "other\n"})
    assert (await _define(repo, ignored_changed)).key == defined.key
    installed_changed = _commit(repo, {"requirements-00.txt": "other\n"})
    assert (await _define(repo, installed_changed)).key != defined.key


async def test_an_oversized_manifest_is_not_read_and_noted(tmp_path: Path) -> None:
    """A package.json over 256 KiB is left unread (its size from git), noted as too large;
    npm is still chosen from the lock file's presence."""
    big = '{"dependencies": {"a": "1"}, "pad": "' + "x" * (300 * 1024) + '"}'
    revision = _commit(tmp_path / "repo", {"package.json": big, "package-lock.json": "{}"})
    tools = WorkerTools("/usr/bin/python3", "3.11.7", {"npm": "/usr/bin/npm"})
    git = GitRunner()
    defined = await define(
        git, tmp_path / "repo/.git", revision, tools=tools, setup_command=None, allow=(), sources={}
    )
    assert defined.plan.notes == ("package.json is larger than 256 KiB: not read",)
    assert [step.argv for step in defined.plan.steps] == [
        ("/usr/bin/npm", "ci", "--no-audit", "--no-fund")
    ]

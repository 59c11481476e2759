"""Manifests parsed in a child process: the same answer as parsing in-process, from the same
`bot` code whatever the environment says; a parse over its CPU time, an answer over its bound
or a cancelled parse leaves the files unread (noted) and no process behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import pytest

from bot.core.env_parsed import read_manifests
from bot.sandbox import manifest_child
from bot.sandbox.manifest_child import parse_manifests
from tests.support.proctree import descendants

PYPROJECT = '[project]\nname = "acme"\n[project.optional-dependencies]\ntest = ["pytest"]\n'
DOTTED = "a" + ".a" * 50_000 + " = 1\n"  # ~30 s of CPU for tomllib


def _parser_children() -> list[int]:
    """This process's parser children (other tests' servers may be children too)."""
    found = []
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            if b"manifest_child" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


async def test_the_child_answers_what_parsing_here_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordinary manifests: the child's result equals read_manifests', even with PYTHONPATH
    pointing elsewhere (-I: the child finds bot by the worker's own path)."""
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")
    texts = {"pyproject.toml": PYPROJECT, "setup.cfg": None, "package.json": '{"x": 1}'}
    assert await parse_manifests(texts, True) == read_manifests(texts, True)


async def test_nothing_to_parse_starts_no_child() -> None:
    """No manifests: the empty result, without a process."""
    assert await parse_manifests({}, False) == read_manifests({}, False)


async def test_a_parse_over_its_cpu_time_is_an_unreadable_manifest() -> None:
    """A quadratic TOML: the child is stopped by its own CPU limit (or the wall clock on a
    busy machine) within seconds; the file is noted as unreadable and not installed from."""
    started = time.monotonic()
    manifests = await parse_manifests({"pyproject.toml": DOTTED}, False)
    assert time.monotonic() - started < 10
    assert not manifests.python.installable
    assert manifests.python.notes in [
        (f"pyproject.toml could not be read ({why}): extras and groups ignored",)
        for why in ("its parser used more than 2 s of CPU", "its parser took longer than 5 s")
    ]


async def test_an_answer_over_its_bound_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker stops reading (and kills the child) past MAX_ANSWER_BYTES."""
    monkeypatch.setattr(manifest_child, "MAX_ANSWER_BYTES", 100)
    manifests = await parse_manifests({"pyproject.toml": PYPROJECT}, False)
    assert manifests.python.notes == (
        "pyproject.toml could not be read (its parser answered more than 100 bytes): "
        "extras and groups ignored",
    )
    assert _parser_children() == []


async def test_a_cancelled_parse_leaves_no_process() -> None:
    """Cancelling the caller (an activity cancelled) kills the child at once."""
    parse = asyncio.create_task(parse_manifests({"pyproject.toml": DOTTED}, False))
    await asyncio.sleep(0.5)
    assert len(_parser_children()) == 1
    parse.cancel()
    cancelled = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await parse
    assert time.monotonic() - cancelled < 1.0  # killed, not left to its CPU limit
    assert _parser_children() == []

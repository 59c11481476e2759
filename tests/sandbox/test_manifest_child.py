"""Manifests parsed in a child process: the same answer as parsing in-process, from the same
`bot` code whatever the environment says; a parse over its CPU time or an answer over its bound
leaves the files unread (noted); a parse over its wall time or killed from outside is a
retryable error; none leaves a process behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from bot.activities.boundary import retryable
from bot.core.env_parsed import read_manifests
from bot.errors import SandboxError
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
    """A quadratic TOML: the child is stopped by its own CPU limit within seconds; the file
    is noted as unreadable and not installed from."""
    started = time.monotonic()
    manifests = await parse_manifests({"pyproject.toml": DOTTED}, False)
    assert time.monotonic() - started < 10
    assert not manifests.python.installable
    assert manifests.python.notes == (
        "pyproject.toml could not be read (its parser used more than 2 s of CPU): "
        "extras and groups ignored",
    )


async def test_a_parse_over_its_wall_time_is_retried_not_taken_for_the_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A child that runs out of wall time (a loaded worker) says nothing about the files: a
    retryable SandboxError, not an "unreadable" manifest (another plan, another key), and no
    process left behind."""
    monkeypatch.setattr(manifest_child, "PARSE_TIMEOUT_S", 0.3)
    with pytest.raises(SandboxError) as raised:
        await parse_manifests({"pyproject.toml": DOTTED}, False)
    assert str(raised.value) == ("the manifests' parser took longer than 0.3 s (a loaded worker?)")
    assert retryable(raised.value)
    assert _parser_children() == []


@pytest.mark.parametrize("sent", [signal.SIGKILL, signal.SIGTERM])
async def test_a_parser_killed_from_outside_is_retried_not_taken_for_the_files(
    sent: signal.Signals,
) -> None:
    """A child killed by someone else's signal (the OOM killer, an operator) is a retryable
    SandboxError naming the signal, not an "unreadable" manifest."""
    parse = asyncio.create_task(parse_manifests({"pyproject.toml": DOTTED}, False))
    await asyncio.sleep(0.5)  # the child parses for 2 s of CPU
    (child,) = _parser_children()
    os.kill(child, sent)
    with pytest.raises(SandboxError) as raised:
        await parse
    assert str(raised.value) == f"the manifests' parser was killed (signal {int(sent)})"
    assert _parser_children() == []


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

"""The toolbox's bounds: every input over its limit is a tool error before anything runs, is
sent or is written, and a command never runs past the time its agent has left."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bot.agents.limits import ToolLimits
from bot.agents.tools.box import Toolbox
from bot.agents.tools.editor import TextEditor
from bot.core.memory import Memory, MemoryWrite, Note
from bot.errors import MemoryRefused
from bot.sandbox.bwrap import sandbox_available

EDITOR = "str_replace_based_edit_tool"
LIMITS = ToolLimits()
needs_sandbox = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)


class RecordingMemory:
    """A memory port that records what reached it; `fail` makes every write fail."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.writes: list[MemoryWrite] = []
        self.fail = fail

    async def read(self) -> Memory:
        return Memory()

    async def write(self, write: MemoryWrite) -> Note:
        self.writes.append(write)
        if self.fail is not None:
            raise self.fail
        return Note(agent=write.agent, key=write.key, value=write.value, version=1, at="t")


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("x = 1\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def over(limit: int) -> str:
    return "a" * (limit + 1)


OVERSIZED = [
    (EDITOR, {"command": "create", "path": "new.py", "file_text": over(LIMITS.max_edit_chars)},
     "file_text", LIMITS.max_edit_chars),
    (EDITOR, {"command": "str_replace", "path": "app.py", "old_str": "x",
              "new_str": over(LIMITS.max_edit_chars)}, "new_str", LIMITS.max_edit_chars),
    (EDITOR, {"command": "str_replace", "path": "app.py", "old_str": over(LIMITS.max_edit_chars),
              "new_str": "y"}, "old_str", LIMITS.max_edit_chars),
    (EDITOR, {"command": "insert", "path": "app.py", "insert_line": 0,
              "insert_text": over(LIMITS.max_edit_chars)}, "insert_text", LIMITS.max_edit_chars),
    (EDITOR, {"command": "create", "path": over(LIMITS.max_path_chars), "file_text": "x"},
     "path", LIMITS.max_path_chars),
    ("search", {"pattern": over(LIMITS.max_pattern_chars)}, "pattern", LIMITS.max_pattern_chars),
    ("search", {"pattern": "x", "path_glob": over(LIMITS.max_path_chars)}, "path_glob",
     LIMITS.max_path_chars),
    ("run", {"command": "touch ran; " + over(LIMITS.max_command_chars)}, "command",
     LIMITS.max_command_chars),
    ("memory", {"action": "write", "key": "k", "value": over(4000)}, "value", 4000),
]  # fmt: skip


@pytest.mark.parametrize(("tool", "tool_input", "key", "limit"), OVERSIZED)
async def test_an_oversized_parameter_is_an_error_and_nothing_happens(
    worktree: Path, tool: str, tool_input: dict[str, Any], key: str, limit: int
) -> None:
    """Each bounded parameter one character over: an exact error; no file written, no
    command run, no memory write sent."""
    memory = RecordingMemory()
    before = sorted(p.name for p in worktree.iterdir())

    result = await Toolbox(worktree, memory).call(tool, tool_input, agent="implement")

    size = len(tool_input[key])
    assert result.is_error
    assert result.text == f"Parameter `{key}` is {size} characters; the limit is {limit}."
    assert sorted(p.name for p in worktree.iterdir()) == before
    assert (worktree / "app.py").read_text() == "x = 1\n"
    assert memory.writes == []


async def test_an_oversized_input_of_any_shape_is_an_error(worktree: Path) -> None:
    """A parameter no bound names still counts towards the whole input's limit."""
    tools = Toolbox(worktree, RecordingMemory(), limits=ToolLimits(max_input_chars=1000))

    tool_input = {"command": "view", "path": "app.py", "x": "a" * 2000}

    result = await tools.call(EDITOR, tool_input, agent="implement")

    assert result.is_error
    assert result.text == "The input is 2046 bytes; the limit is 1000."


async def test_a_memory_key_over_its_limit_is_never_sent(worktree: Path) -> None:
    """A 101-character key is refused in the toolbox; the memory port never sees it."""
    memory = RecordingMemory()
    tool_input = {"action": "write", "key": "k" * 101, "value": "v"}

    result = await Toolbox(worktree, memory).call("memory", tool_input, agent="implement")

    assert (result.is_error, result.text) == (True, "key must be 1-100 characters")
    assert memory.writes == []


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (MemoryRefused("memory is full (200 notes)"), "memory is full (200 notes)"),
        (RuntimeError("grpc: message larger than max"), "The tool `memory` failed unexpectedly"),
    ],
)
async def test_a_failed_memory_write_is_a_tool_error(
    worktree: Path, failure: Exception, message: str
) -> None:
    """Whatever the memory port raises comes back as an error result, never an exception."""
    tools = Toolbox(worktree, RecordingMemory(fail=failure))

    result = await tools.call(
        "memory", {"action": "write", "key": "k", "value": "v"}, agent="implement"
    )

    assert result.is_error
    assert result.text.startswith(message)


@needs_sandbox
async def test_a_command_gets_no_more_than_the_time_its_agent_has_left(worktree: Path) -> None:
    """`sleep 30` with 1 s left is killed after 1 s and says the budget ran out."""
    tools = Toolbox(worktree, RecordingMemory())
    started = time.monotonic()

    result = await tools.call("run", {"command": "sleep 30"}, agent="implement", time_left=1.0)

    assert time.monotonic() - started < 10
    assert result.text == (
        "timed out after 1 s (killed): the agent's time budget ran out\n(no output)"
    )


async def test_no_command_starts_without_time_left(worktree: Path) -> None:
    """With the budget used up, `run` refuses before starting anything."""
    tools = Toolbox(worktree, RecordingMemory())

    result = await tools.call("run", {"command": "touch ran"}, agent="implement", time_left=0)

    assert (result.is_error, result.text) == (True, "Not run: the agent's time budget is used up.")
    assert not (worktree / "ran").exists()


class StuckEditor(TextEditor):
    """An editor whose file system answers late (as a blocking open would): `run` sleeps."""

    def run(self, tool_input: dict[str, Any]) -> str:
        time.sleep(1.5)
        return "late"


async def test_the_editor_runs_off_the_event_loop_within_a_bounded_time(worktree: Path) -> None:
    """A blocking editor call neither stops the event loop (a ticker keeps ticking) nor holds
    the agent past its limit: it comes back as a tool error after `editor_timeout_s`."""
    toolbox = Toolbox(worktree, RecordingMemory(), limits=ToolLimits(editor_timeout_s=0.5))
    toolbox.editor = StuckEditor(worktree)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    outcome = await toolbox.call(EDITOR, {"command": "view", "path": "app.py"}, agent="implement")
    elapsed = time.monotonic() - started
    ticking.cancel()

    assert outcome.is_error and outcome.text == "The editor did not finish within 0.5 s."
    assert elapsed < 1.0
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.3


async def test_the_editor_gets_no_more_than_the_agents_time_left(worktree: Path) -> None:
    """With less time left than the editor's limit, the agent's time bounds the wait; with
    none left, the editor does not run."""
    toolbox = Toolbox(worktree, RecordingMemory())
    toolbox.editor = StuckEditor(worktree)
    view = {"command": "view", "path": "app.py"}

    late = await toolbox.call(EDITOR, view, agent="implement", time_left=0.2)
    spent = await toolbox.call(EDITOR, view, agent="implement", time_left=0)

    assert late.text == "The editor did not finish within 0.2 s."
    assert spent.text == "Not run: the agent's time budget is used up."


@needs_sandbox
async def test_an_agents_commands_share_one_disk_allowance(worktree: Path) -> None:
    """Red team: an agent's `run` had no disk budget, and what one command wrote stayed until
    the agent ended: it could hold the worker's disk at its floor and make every other
    sandbox on the worker fail. Now all its commands together may add `run_disk_mb`: the
    second 15 MiB file is stopped, a command that deletes still runs, and what it freed is
    allowed again."""
    box = Toolbox(worktree, RecordingMemory(), limits=ToolLimits(run_disk_mb=20))

    async def run(command: str) -> str:
        return (await box.call("run", {"command": command}, agent="implement")).text

    write = "head -c 15728640 /dev/urandom > {name} && sleep 6 && echo written"
    assert (await run(write.format(name="first.bin"))).startswith("exit code 0\nwritten")
    second = await run(write.format(name="second.bin"))
    assert second.startswith("killed: the files it wrote grew past 5 MiB"), second
    assert (await run("rm -f first.bin second.bin")).startswith("exit code 0")
    assert (await run(write.format(name="third.bin"))).startswith("exit code 0\nwritten")

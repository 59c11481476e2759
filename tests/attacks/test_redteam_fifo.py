"""Red team: a FIFO a sandboxed command leaves in the worktree froze the worker's event loop
when the agent's editor tool opened it (view, create, str_replace), so no timeout, heartbeat or
other agent on that worker ran again until something wrote to the FIFO (here: a watchdog
thread, after a few seconds; in production: nothing, ever).

The same for every special file and every way to name one: a socket, a FIFO behind a symlink
or a symlinked directory, by absolute path, for every editor command."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.agents.tools.box import Toolbox
from bot.core.commit_policy import WritePolicy
from bot.core.memory import Memory, MemoryWrite, Note
from bot.sandbox.bwrap import sandbox_available
from bot.sandbox.trees import delete_tree
from tests.attacks.test_write_policy import committed, make_tree

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)

EDITOR = "str_replace_based_edit_tool"
UNBLOCK_AFTER_S = 4.0  # the watchdog: without it, a failing test would hang forever
# What the injected agent runs first: FIFOs and a socket, and ways to reach them.
PLANT = (
    "mkfifo trap && ln -s trap link.py && mkdir dir && mkfifo dir/deep && ln -s dir dirlink"
    " && python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('sock')\""
)


class NoMemory:
    async def read(self) -> Memory:
        return Memory()

    async def write(self, write: MemoryWrite) -> Note:
        raise AssertionError("not used")


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("x = 1\n")
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    return tree


@contextlib.contextmanager
def _watchdog(fifos: list[Path]) -> Iterator[None]:
    """Every UNBLOCK_AFTER_S while the block runs, open each FIFO read-write (never blocks on
    Linux), write a byte and hold it open a moment: that releases a reader or a writer blocked
    on it, so a failing test ends instead of hanging."""
    done = threading.Event()

    def release() -> None:
        while not done.wait(UNBLOCK_AFTER_S):
            for fifo in fifos:
                try:
                    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
                except OSError:
                    continue
                try:
                    os.write(fd, b"x")
                    time.sleep(0.5)
                finally:
                    os.close(fd)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _cases() -> list[tuple[str, dict[str, object]]]:
    edits: list[tuple[str, dict[str, object]]] = []
    for target in ("trap", "link.py", "dir/deep", "dirlink/deep", "sock", "{tree}/trap"):
        edits += [
            (f"view {target}", {"command": "view", "path": target}),
            (f"create {target}", {"command": "create", "path": target, "file_text": "y\n"}),
            (
                f"str_replace {target}",
                {"command": "str_replace", "path": target, "old_str": "x", "new_str": "y"},
            ),
            (
                f"insert {target}",
                {"command": "insert", "path": target, "insert_line": 0, "insert_text": "y"},
            ),
        ]
    return edits


@pytest.mark.parametrize(("name", "tool_input"), _cases(), ids=[name for name, _ in _cases()])
async def test_a_fifo_from_the_sandbox_never_blocks_the_workers_event_loop(
    worktree: Path, name: str, tool_input: dict[str, object]
) -> None:
    """The agent plants FIFOs, a socket and links to them, then opens one with the editor: the
    call comes back at once as a tool error saying what the file is, the special file is left
    as it was, and the event loop keeps running (a ticker task shows whether it did)."""
    toolbox = Toolbox(worktree, NoMemory())
    made = await toolbox.call("run", {"command": PLANT}, agent="implement")
    assert made.text.startswith("exit code 0"), made.text
    tool_input = {**tool_input, "path": str(tool_input["path"]).format(tree=worktree)}

    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.2)
    with _watchdog([worktree / "trap", worktree / "dir" / "deep"]):
        started = time.monotonic()
        try:
            outcome = await asyncio.wait_for(
                toolbox.call(EDITOR, tool_input, agent="implement", time_left=1.0), 1.5
            )
        except TimeoutError:
            outcome = None
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.2)
    ticking.cancel()
    longest_stall = max(later - earlier for earlier, later in itertools.pairwise(ticks))

    assert longest_stall < 1.0, f"{name}: the event loop stood still for {longest_stall:.1f} s"
    assert elapsed < 1.5, f"{name}: the call took {elapsed:.1f} s"
    assert outcome is not None and outcome.is_error, outcome
    assert "FIFO" in outcome.text or "socket" in outcome.text, outcome.text
    assert (worktree / "trap").is_fifo() and (worktree / "dir" / "deep").is_fifo()
    assert (worktree / "sock").is_socket()
    assert toolbox.files_written == set()


async def test_the_editor_still_edits_through_a_link_inside_the_worktree(worktree: Path) -> None:
    """A symlink to a regular file inside the worktree is resolved and its target edited (the
    link itself stays a link): the fix refuses special files, not links."""
    toolbox = Toolbox(worktree, NoMemory())
    made = await toolbox.call("run", {"command": "ln -s a.py alias.py"}, agent="implement")
    assert made.text.startswith("exit code 0"), made.text

    edit = {"command": "str_replace", "path": "alias.py", "old_str": "x = 1", "new_str": "x = 2"}
    outcome = await toolbox.call(EDITOR, edit, agent="implement", time_left=5.0)

    assert not outcome.is_error, outcome.text
    assert (worktree / "a.py").read_text() == "x = 2\n"
    assert (worktree / "alias.py").is_symlink()
    assert toolbox.files_written == {"a.py"}


async def test_the_rest_of_the_host_passes_special_files_by(tmp_path: Path) -> None:
    """After the agent planted FIFOs and a socket: search, the commit step (status, add,
    screening) and the worktree's removal neither block nor fail; the special files are never
    committed, the rest is."""
    tree = await make_tree(tmp_path, {"README.md": "# project\n"})
    toolbox = Toolbox(tree.path, NoMemory())
    made = await toolbox.call("run", {"command": PLANT + " && echo y > y.txt"}, agent="implement")
    assert made.text.startswith("exit code 0"), made.text

    with _watchdog([tree.path / "trap", tree.path / "dir" / "deep"]):
        found = await asyncio.wait_for(
            toolbox.call("search", {"pattern": "y"}, agent="implement"), 3
        )
        refused = await asyncio.wait_for(tree.stage_screened(WritePolicy()), 3)
        await asyncio.wait_for(tree.commit_staged("work", "implement"), 3)
        listed = await committed(tree)
        await asyncio.wait_for(asyncio.to_thread(delete_tree, tree.path), 3)

    assert found.text == "y.txt:1:y\n" and refused == []
    assert "y.txt" in listed and not {"trap", "sock", "dir/deep"} & set(listed)
    assert not tree.path.exists()

"""Red team: a directory chain 1,200 levels deep (2,400 characters: under PATH_MAX, plain names,
accepted by the write policy) made `shutil.rmtree` raise RecursionError, which no cleanup path
expected (they caught OSError or GitError). An agent that committed one made the test
worktree's removal fail after every test run: the `run_tests` activity failed on each retry,
the run failed and no pull request was opened.

Now: every deletion walks one directory descriptor at a time (sandbox/files.py), the nested-
repository scrub too (past PATH_MAX as well), the write policy refuses paths over 48 levels or
1,024 bytes, and a failed tidy-up fails no activity."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.core.commit_policy import WritePolicy
from bot.git.scrub import remove_nested_repos
from bot.sandbox.bwrap import sandbox_available
from bot.sandbox.trees import delete_tree
from tests.attacks.hostile_git import plain_git
from tests.attacks.test_write_policy import committed, make_tree
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.project import PROJECT_FILES, TEST_COMMAND, plan_turn
from tests.support.runstack import run_stack
from tests.support.stack import eventually_async

needs_sandbox = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)

DEPTH = 1200
DEEP_DIR = "/".join(["d"] * DEPTH)
DEEP_FILE = DEEP_DIR + "/leaf.txt"
MAKE_DEEP = f"mkdir -p {DEEP_DIR} && echo x > {DEEP_FILE}"  # mkdir -p is iterative
# Past PATH_MAX from the top, one level at a time (relative mkdir and chdir never see the
# whole path); then `then` in the deepest directory.
PAST_PATH_MAX = 2500


DEEPER_SCRIPT = f"""\
import os, sys
for _ in range({PAST_PATH_MAX}):
    os.makedirs("d", exist_ok=True)
    os.chdir("d")
os.system(" ".join(sys.argv[1:]))
"""


def make_deeper(then: str = "") -> str:
    """A shell command: the deep chain, then `then` run at its bottom."""
    return f"python3 -c '{DEEPER_SCRIPT}' {then}"


def shell(cwd: Path, command: str) -> None:
    subprocess.run(["sh", "-c", command], cwd=cwd, check=True)


@pytest.fixture(autouse=True)
def _leave_no_deep_tree(tmp_path: Path) -> Iterator[None]:
    """pytest's own clean-up of old temporary directories is recursive: deep trees go here."""
    yield
    for child in tmp_path.iterdir():
        delete_tree(child)


def test_deleting_a_deep_tree_does_not_raise(tmp_path: Path) -> None:
    """delete_tree (the worktree removal every activity runs) removes a 1,200-deep tree, and
    one deeper than PATH_MAX with a read-only directory at the bottom."""
    top = tmp_path / "tree"
    top.mkdir()
    shell(top, MAKE_DEEP)
    shell(top, make_deeper("'mkdir ro && touch ro/f && chmod 500 ro'"))
    assert sys.getrecursionlimit() < DEPTH

    delete_tree(top)

    assert not top.exists()


def test_a_nested_repository_past_path_max_is_still_removed(tmp_path: Path) -> None:
    """A `.git` at the bottom of a tree too deep to name by path is found and removed (the
    scrub used to fail closed there, failing every host git command in the worktree)."""
    top = tmp_path / "tree"
    top.mkdir()
    shell(top, make_deeper("'mkdir .git && echo [core] > .git/config'"))

    removed = remove_nested_repos(top)

    assert removed == ["/".join(["d"] * PAST_PATH_MAX) + "/.git"]
    assert remove_nested_repos(top) == []


async def test_the_commit_step_refuses_a_deep_path_and_clears_it(tmp_path: Path) -> None:
    """The agent leaves a 1,200-deep file: the commit step refuses it with a clear reason,
    commits the rest, and removes the file from the worktree (empty directories stay, as for
    any refused file: git does not see them)."""
    tree = await make_tree(tmp_path, {"README.md": "# project\n"})
    shell(tree.path, MAKE_DEEP + " && echo ok > fine.txt")

    refused = await tree.stage_screened(WritePolicy())
    await tree.commit_staged("work", "implement")

    assert [(r.path, r.reason) for r in refused] == [
        (DEEP_FILE, "the path is more than 48 levels deep")
    ]
    assert "fine.txt" in await committed(tree)
    assert not os.path.lexists(tree.path / DEEP_FILE)


@needs_sandbox
async def test_a_deep_tree_from_an_agent_does_not_fail_the_run(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The injected agent makes a 1,200-deep file and the repository's test command makes a
    deeper tree in the test worktree: the run still tests, and opens its pull request within
    a minute, without the deep file."""
    files = {
        **PROJECT_FILES,
        "make_deep.py": DEEPER_SCRIPT,
        ".github/orchestrate.yml": (
            f'max_rounds: 1\ntest_command: "python make_deep.py && {TEST_COMMAND} tests"\n'
        ),
    }
    scripts = {
        "submit_plan": [plan_turn(("implement",), "small")],
        "implement": [
            Turn(tool_calls=[ToolCall("run", {"command": MAKE_DEEP + " && echo y > y.txt"})]),
            Turn(text="Added the fixture."),
        ],
    }
    with ScriptedModel(scripts) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
        ) as stack:
            await stack.command("/orchestrate add a fixture")

            async def opened() -> bool:
                return bool(stack.pulls())

            try:
                await eventually_async(opened, 60)
            except AssertionError:
                pytest.fail("no pull request within 60 s: removing a worktree fails")
            progress = await stack.finished_run(timeout=60)
            [pull] = stack.pulls()
            listed = plain_git(stack.bare, "ls-tree", "-r", "--name-only", pull.head_ref).split()

    assert progress.state.startswith("done"), progress.state
    assert "y.txt" in listed and not any(path.startswith("d/") for path in listed)
    assert [test_round.exit_code for test_round in progress.rounds] == [0]

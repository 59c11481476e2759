"""The environment phase on the real stack (fakehub, the scripted model, Temporal, bwrap, the
local package index as the only allow-listed host): a repository with nothing but its manifests
gets its own environment before any agent starts, reuses it while nothing that defines it
changes, rebuilds it when something does, and stops the run when its setup fails."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from bot.render import states
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel, ToolCall, Turn
from tests.support.project import create, plan_input, tool_results
from tests.support.pyindex import (
    FIXTURE_BACKEND,
    FIXTURE_DEP,
    FIXTURE_PYPROJECT,
    PackageIndex,
    shared_index,
)
from tests.support.runstack import OWNER, RunStack, eventually, run_stack

# The fixture project, whose test extra also brings pytest (the test command runs it).
PYPROJECT = FIXTURE_PYPROJECT.replace(
    'test = ["orchestrate-fixture-dep>=1.0"]', 'test = ["orchestrate-fixture-dep>=1.0", "pytest"]'
)
assert PYPROJECT != FIXTURE_PYPROJECT
APP = "from orchestrate_fixture_dep import answer\n\n\ndef value() -> int:\n    return answer()\n"
TEST_APP = "from fixture_app import value\n\n\ndef test_value():\n    assert value() == 42\n"
FILES = {
    "pyproject.toml": PYPROJECT,
    "src/fixture_app/__init__.py": APP,
    "tests/test_app.py": TEST_APP,
}
TEST_COMMAND = "python -m pytest -q -p no:cacheprovider"
PROBE = "python -c 'import fixture_app, orchestrate_fixture_dep, sys; print(fixture_app.value(), sys.prefix)'"
DETECTED = "Python 3.11 virtualenv, pip install the project (.[test])"


def _plan(test_command: str = TEST_COMMAND) -> Turn:
    plan: dict[str, Any] = plan_input(("implement",), "one small change")
    plan["subtasks"][0] |= {"goal": "Add a note.", "files": ["NOTES.md"]}
    plan["contract"] = {"files": ["NOTES.md"], "interfaces": [], "behaviours": []}
    plan["test_command"] = test_command
    return Turn(tool_calls=[ToolCall("submit_plan", plan)])


def _implementer(note: str) -> list[Turn]:
    """Checks the environment with `run`, writes a note, finishes."""
    return [
        Turn(tool_calls=[ToolCall("run", {"command": PROBE})]),
        Turn(tool_calls=[create("NOTES.md", f"{note}\n")]),
        Turn(text="Added NOTES.md."),
    ]


@pytest.fixture
def index() -> PackageIndex:
    return shared_index()


@pytest.fixture
async def stack(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> AsyncIterator[RunStack]:
    scripts: dict[str, Script] = {"submit_plan": [], "implement": []}
    with ScriptedModel(scripts) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=FILES
        ) as running:
            yield running


async def _run(stack: RunStack, issue: int, note: str, plan: Turn | None = None) -> Any:
    if issue > 1:
        stack.hub.add_issue(OWNER, stack.repo, issue, f"Task {issue}", "Another small change.")
    stack.model.add_script("submit_plan", [plan or _plan()])
    stack.model.add_script("implement", _implementer(note))
    await stack.command("/orchestrate add a note", issue=issue)
    return await stack.finished_run(issue, timeout=180)


def _status(stack: RunStack, issue: int) -> str:
    return stack.app_comments(issue)[0]


async def test_a_repository_with_only_a_pyproject_gets_its_own_environment(
    stack: RunStack, index: PackageIndex
) -> None:
    """No orchestrate.yml: the run builds the environment from pyproject.toml alone (the
    project editable with its test extra, a package that exists only in the local index),
    the agent's `run` uses it, round 1 passes, the PR is no draft and says what was built."""
    before = len(index.downloads)
    progress = await _run(stack, 1, "first")

    assert progress.state == "done", progress.state
    assert [r.passed for r in progress.rounds] == [True], progress.rounds
    assert progress.environment.startswith("built in ")
    assert {FIXTURE_BACKEND.filename, FIXTURE_DEP.filename} <= set(index.downloads[before:])
    assert re.search(r"\*\*environment\*\*: built in [\d.]+ s · ", _status(stack, 1))
    assert "pip install the project (.\\[test\\])" in _status(stack, 1)

    [probe] = tool_results(stack.model.requests_for("implement")[1].body)
    assert re.fullmatch(r"exit code 0\n42 /\S+/venv\n", str(probe["content"])), probe
    [pull] = stack.pulls()
    assert not pull.draft
    assert pull.body is not None
    line = re.escape(
        "**Environment:** Python 3.11 virtualenv, pip install the project (.\\[test\\])"
    )
    assert re.search(line + r" \(built in [\d.]+ s\)\.", pull.body), pull.body
    assert "section environment" in pull.body  # the timeline's span


async def test_unchanged_manifests_hit_the_cache_and_a_changed_one_rebuilds(
    stack: RunStack, index: PackageIndex
) -> None:
    """A second run with the same manifests reuses the environment: no setup runs (the index
    is not even asked); a commit that changes a requirements file rebuilds it."""
    first = await _run(stack, 1, "first")
    assert first.environment.startswith("built in ")
    requests = len(index.requests)

    second = await _run(stack, 10, "second")  # #2 is the first run's pull request
    assert (second.state, second.environment) == ("done", "cached")
    assert len(index.requests) == requests  # no pip ran: nothing asked the index
    assert "**environment**: cached · Python 3.11 virtualenv" in _status(stack, 10)
    [_, pull] = stack.pulls()
    assert "(reused from the cache)." in (pull.body or "")

    stack.hub.commit(OWNER, stack.repo, "main", {"requirements-test.txt": "orchestrate-bench-9\n"})
    downloads = len(index.downloads)
    third = await _run(stack, 20, "third")
    assert third.environment.startswith("built in "), third.environment
    assert "orchestrate_bench_9-1.0.0-py3-none-any.whl" in index.downloads[downloads:]
    assert [r.passed for r in third.rounds] == [True]


async def test_a_failing_setup_stops_the_run_before_any_agent(stack: RunStack) -> None:
    """A setup that fails ends the run before any agent call: the status says so, a comment
    quotes the setup's output (collapsed), nothing is pushed and no PR is opened."""
    missing = "orchestrate-no-such-package"
    stack.hub.commit(OWNER, stack.repo, "main", {"requirements.txt": f"{missing}\n"})
    progress = await _run(stack, 1, "never")

    assert progress.state == states.ENVIRONMENT_FAILED
    assert progress.environment == "failed"
    assert stack.model.requests_for("implement") == []
    assert stack.pulls() == [] and stack.hub.state.pushes_to(OWNER, stack.repo) == []
    status, failure = stack.app_comments()
    assert (
        "**environment**: failed · Python 3.11 virtualenv, pip install -r requirements.txt"
        in status
    )
    assert failure.startswith(
        "The run stopped before any agent started: the repository's environment could not "
        "be built (the setup failed).\n\n**Detected:** Python 3.11 virtualenv, pip install "
        "-r requirements.txt, the project (.\\[test\\])\n\n"
        "<details><summary>Setup output (last lines)</summary>\n\n```text\n"
    )
    assert f"No matching distribution found for {missing}" in failure
    assert "Hosts the setup could not reach" not in failure  # only the index was asked


def _sleeping(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


async def test_a_setup_past_its_timeout_stops_the_run(stack: RunStack) -> None:
    """setup_timeout_minutes bounds the setup: past it, the run stops before any agent and the
    comment says the setup timed out."""
    config = 'setup_command: "echo started; sleep 60"\nsetup_timeout_minutes: 0.05\n'
    stack.hub.commit(OWNER, stack.repo, "main", {".github/orchestrate.yml": config})
    progress = await _run(stack, 1, "never")
    assert progress.state == states.ENVIRONMENT_FAILED
    assert stack.model.requests_for("implement") == []
    failure = stack.app_comments()[-1]
    assert "could not be built (the setup timed out)." in failure
    assert re.search(r"```text\n\$ \S+ -m venv \S+/venv\n", failure)  # what it was doing


async def test_cancel_during_the_setup_stops_it(stack: RunStack) -> None:
    """`/orchestrate cancel` while the setup runs: the run is cancelled, the setup's processes
    are gone soon after, no agent is called and nothing is pushed."""
    marker = f"{uuid.uuid4().int % 100_000}.{os.getpid()}"
    config = f'setup_command: "sleep {marker}"\n'
    stack.hub.commit(OWNER, stack.repo, "main", {".github/orchestrate.yml": config})
    stack.model.add_script("submit_plan", [_plan()])
    await stack.command("/orchestrate add a note")
    await eventually(lambda: _sleeping(f"sleep {marker}"), timeout=120)
    await stack.command("/orchestrate cancel")
    progress = await stack.finished_run(timeout=60)
    assert progress.state == "cancelled by @maintainer"
    await eventually(lambda: not _sleeping(f"sleep {marker}"), timeout=30)
    assert stack.model.requests_for("implement") == []
    assert stack.hub.state.pushes_to(OWNER, stack.repo) == []

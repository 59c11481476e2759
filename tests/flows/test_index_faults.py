"""The package index failing while the environment is set up (the real stack, a local index
that answers 503 or drops connections): a short outage is outlasted by trying the setup again,
a long one stops the run with a comment naming what failed upstream, and a package that does
not exist still fails at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import RetryPolicy

from bot.render import states
from bot.workflows import policies
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel
from tests.support.environments import local_environment
from tests.support.installed_wheels import PYTEST_DISTS, installed_wheel
from tests.support.project import PROJECT_FILES, edit_then_finish, plan_turn
from tests.support.pyindex import PackageIndex
from tests.support.runstack import OWNER, RunStack, run_stack

TYPO = edit_then_finish("README.md", "A tiny command-line tool.", "A tiny command-line tool!")
FILES = dict(PROJECT_FILES) | {".github/orchestrate.yml": "max_rounds: 1\n"}


@pytest.fixture
def index() -> Iterator[PackageIndex]:
    with PackageIndex([], [installed_wheel(name) for name in PYTEST_DISTS]) as running:
        yield running


@pytest.fixture
async def stack(
    hub: FakeHub,
    temporal_client: Client,
    task_queue: str,
    repo_name: str,
    tmp_path: Path,
    index: PackageIndex,
) -> AsyncIterator[RunStack]:
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("implement",), "small")],
        "implement": [TYPO],
    }
    environment = local_environment(tmp_path, index)
    with ScriptedModel(scripts) as model:
        async with run_stack(
            hub,
            temporal_client,
            task_queue,
            repo_name,
            model,
            tmp_path,
            files=FILES,
            environment=environment,
        ) as running:
            yield running


async def _environment_attempts(stack: RunStack) -> int:
    """The attempt of prepare_environment that finished (its started event's attempt)."""
    history = (await stack.run_handle().fetch_history()).events
    scheduled = {
        e.event_id
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "prepare_environment"
    }
    [attempt] = [
        e.activity_task_started_event_attributes.attempt
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
    ]
    return attempt


async def test_a_short_index_outage_is_outlasted_by_trying_the_setup_again(
    stack: RunStack, index: PackageIndex
) -> None:
    """The index answers 503 (Retry-After: 1) for 15 s, longer than pip's own retries: the
    setup fails, is tried again after the policy's wait, is built once the index is back,
    and the run completes."""
    index.fail(503, seconds=15, retry_after=1)
    await stack.command("/orchestrate fix the typo")
    progress = await stack.finished_run(timeout=240)

    assert progress.state == "done", progress.state
    assert progress.environment.startswith("built in "), progress.environment
    assert await _environment_attempts(stack) > 1
    assert index.faults_served > 0
    assert any(name.startswith("pytest-") for name in index.downloads), index.downloads


async def test_dropped_connections_for_a_while_are_outlasted_by_pip_itself(
    stack: RunStack, index: PackageIndex
) -> None:
    """The index drops every connection for 12 s: pip, told to retry more than its default
    (PIP_RETRIES), rides it out within the first attempt, and the run completes."""
    index.fail(None, seconds=12)
    await stack.command("/orchestrate fix the typo")
    progress = await stack.finished_run(timeout=240)

    assert progress.state == "done", progress.state
    assert await _environment_attempts(stack) == 1
    assert index.faults_served > 0


async def test_an_index_down_past_the_retries_is_named_in_the_failure(
    stack: RunStack, index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index answers 503 for good: every attempt fails, and the last one stops the run
    with a comment that says the index answered 503 (pip's own output says only "No
    matching distribution"), before any agent. (Two attempts a second apart: the schedule,
    not the mechanism, is shortened.)"""
    quick = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2)
    monkeypatch.setattr(policies, "ENVIRONMENT_RETRY", quick)
    index.fail(503, retry_after=1)
    await stack.command("/orchestrate fix the typo")
    progress = await stack.finished_run(timeout=240)

    assert progress.state == states.ENVIRONMENT_FAILED
    assert await _environment_attempts(stack) == 2
    assert stack.model.requests_for("implement") == []
    assert stack.pulls() == [] and stack.hub.state.pushes_to(OWNER, stack.repo) == []
    failure = stack.app_comments()[-1]
    port = index.port
    assert failure.startswith(
        "The run stopped before any agent started: the repository's environment could not "
        "be built (the setup failed while an allowed host was failing).\n\n"
        "**Allowed hosts that were failing** (seen by the app's proxy; the setup was tried "
        "again a few times over some minutes, and failed each time):\n\n"
        # pip asks once, then PIP_RETRIES (8) more times, in the last attempt
        f"- 127\\.0.0.1:{port}: answered 503 (9 times)\n\n"
        "If one of them is your package index, it was probably down: start the run again "
        "once it answers. If not, the setup itself may have made those connections fail."
        "\n\n**Detected:** Python 3.11 virtualenv, pip install -r requirements-dev.txt\n\n"
    ), failure
    assert "No matching distribution found for pytest" in failure


async def test_a_missing_package_fails_at_once(stack: RunStack, index: PackageIndex) -> None:
    """A package the index does not have (a 404, no fault upstream) is the repository's
    problem: the first attempt stops the run, with the message it always had."""
    missing = "orchestrate-no-such-package"
    stack.hub.commit(OWNER, stack.repo, "main", {"requirements-dev.txt": f"{missing}\n"})
    await stack.command("/orchestrate fix the typo")
    progress = await stack.finished_run(timeout=120)

    assert progress.state == states.ENVIRONMENT_FAILED
    assert await _environment_attempts(stack) == 1
    failure = stack.app_comments()[-1]
    assert failure.startswith(
        "The run stopped before any agent started: the repository's environment could not "
        "be built (the setup failed).\n\n**Detected:** "
    ), failure
    assert f"No matching distribution found for {missing}" in failure
    assert "Allowed hosts that were failing" not in failure

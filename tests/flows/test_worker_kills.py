"""A worker SIGKILLed in each phase of a run (separate `bot worker` processes, two per run, the
real stack): the other worker takes the interrupted activity over within about a minute (its
heartbeat timeout, or a GitHub call's 30 s timeout), and the run ends with one status comment
and one pull request. The recovery time of each phase is printed."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bot.render.plan_comment import PLAN_MARKER
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel
from tests.support.project import PROJECT_FILES, TEST_COMMAND, edit_then_finish, plan_turn
from tests.support.runstack import OWNER, RunStack
from tests.support.stack import webhook_client
from tests.support.workers import (
    Kill,
    WorkerPool,
    activity_restarted,
    kill_when_running,
    worker_pool,
)

pytestmark = pytest.mark.durability

# A killed worker's activity is taken over within this (a minute's heartbeat timeout, retry
# backoff and a loaded machine's scheduling on top).
RECOVERY_LIMIT_S = 90
TYPO = edit_then_finish("README.md", "A tiny command-line tool.", "A tiny command-line tool!")
_numbers = itertools.count(1)
Arm = Callable[[WorkerPool, RunStack, Callable[[], str]], Awaitable[Kill] | Kill]


@dataclass(frozen=True)
class Phase:
    name: str
    activity: str  # the activity whose worker dies
    arm: Arm  # sets the kill (the third argument: the run's workflow id, once it exists)
    config: str = ""  # more of the repository's .github/orchestrate.yml


def git_request(service: str, applied: bool = False) -> Arm:
    """Kill the worker whose git sends the repository's first `service` request."""

    def arm(pool: WorkerPool, stack: RunStack, _: Callable[[], str]) -> Kill:
        path = rf"^/{OWNER}/{stack.repo}\.git/{service}$"
        return pool.kill_on_hub_request(stack.hub, "POST", path, applied=applied)

    return arm


def plan_request(pool: WorkerPool, stack: RunStack, _: Callable[[], str]) -> Kill:
    return pool.kill_on_model_request(stack.model, "submit_plan")


def status_edit(pool: WorkerPool, stack: RunStack, _: Callable[[], str]) -> Kill:
    """The first edit of the status comment is applied, then its worker dies unanswered."""
    path = rf"^/repos/{OWNER}/{stack.repo}/issues/comments/\d+$"
    return pool.kill_on_hub_request(stack.hub, "PATCH", path, applied=True)


async def during_tests(pool: WorkerPool, stack: RunStack, run_id: Callable[[], str]) -> Kill:
    return await kill_when_running(pool, stack.client, run_id(), "run_tests")


async def during_setup(pool: WorkerPool, stack: RunStack, run_id: Callable[[], str]) -> Kill:
    return await kill_when_running(pool, stack.client, run_id(), "prepare_environment")


async def ctrl_c_twice(pool: WorkerPool, stack: RunStack, run_id: Callable[[], str]) -> Kill:
    """Not a crash: `bot worker` told to stop (Ctrl-C, and again while it stops) mid-test-run."""
    return await kill_when_running(pool, stack.client, run_id(), "run_tests", interrupts=2)


PHASES = [
    Phase("SIGKILL in the context fetch", "run_context", git_request("git-upload-pack")),
    Phase("SIGKILL in the plan call", "plan", plan_request),
    Phase(
        "SIGKILL in branch creation (push applied)",
        "prepare_branch",
        git_request("git-receive-pack", True),
    ),
    Phase(
        "SIGKILL in the environment's setup",
        "prepare_environment",
        during_setup,
        # A setup slow enough to be caught running (what detection would run, after a pause).
        "setup_command: sleep 6 && pip install -q -r requirements-dev.txt\n",
    ),
    Phase("SIGKILL in the test run", "run_tests", during_tests),
    Phase("SIGKILL in a status edit (applied)", "edit_comment", status_edit),
    Phase("Ctrl-C twice in the test run", "run_tests", ctrl_c_twice),
]


async def killed_run(phase: Phase, hub: FakeHub, client: Client, address: str, root: Path) -> float:
    """One run on its own repository, queue and two workers, with `phase`'s kill; the seconds
    from the kill until another worker started the activity again."""
    number = next(_numbers)
    queue, repo_name = f"kills-{root.name}-{number}", f"killed-{root.name}-{number}"
    # A test command slow enough to be caught running.
    config = f"max_rounds: 1\ntest_command: sleep 6 && {TEST_COMMAND}\n{phase.config}"
    files = dict(PROJECT_FILES) | {".github/orchestrate.yml": config}
    repo = hub.add_repo(OWNER, repo_name, files=files)
    hub.add_issue(OWNER, repo_name, 1, "Fix the typo", "")
    hub.set_permission(OWNER, repo_name, "maintainer", "admin")
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("implement",), "small")] * 2,
        "implement": [TYPO] * 4,
    }
    with ScriptedModel(scripts) as model:
        async with (
            worker_pool(
                2, hub, model, temporal_address=address, task_queue=queue, root=root / queue
            ) as pool,
            webhook_client(client, queue, "kill-secret") as http,
        ):
            stack = RunStack(hub, model, http, client, repo_name, repo.id, "kill-secret")
            try:
                return await _recovered(phase, pool, stack)
            finally:
                await stack.stop_everything()


async def _recovered(phase: Phase, pool: WorkerPool, stack: RunStack) -> float:
    armed = phase.arm(pool, stack, lambda: stack.run_handle().id)
    comment_id = await stack.command("/orchestrate fix the typo")
    kill = await (armed if isinstance(armed, Kill) else await armed).wait(120)
    run_id = stack.run_handle().id

    async def restarted() -> bool:
        return await activity_restarted(stack.client, run_id, phase.activity, kill.wall)

    recovery = await pool.recovery_time(kill, restarted, timeout=RECOVERY_LIMIT_S + 30)
    progress = await stack.finished_run(timeout=240)
    assert progress.state == "done", (phase.name, progress.state)
    [status] = stack.app_comments()
    assert status.startswith(PLAN_MARKER) and "· done" in status
    assert len(stack.pulls()) == 1
    assert sorted(r.content for r in stack.hub.state.reactions_on(comment_id)) == [
        "eyes",
        "rocket",
    ]
    return recovery


async def test_a_worker_killed_in_any_phase_is_replaced_within_a_minute_and_a_half(
    temporal_env: WorkflowEnvironment, hub: FakeHub, tmp_path: Path
) -> None:
    """SIGKILL in the context fetch, the plan call, the branch push, the environment's setup,
    the test run and a status edit, and Ctrl-C twice during a test run (concurrently, on separate runs and workers): each
    interrupted activity is started again on the surviving worker in under 90 s (a stopped
    worker's within seconds: its activity fails as a retryable WorkerShutdown), and each run
    ends done with exactly one status comment, one pull request, eyes and rocket."""
    client = temporal_env.client
    address = client.service_client.config.target_host
    results = await asyncio.gather(
        *(killed_run(phase, hub, client, address, tmp_path) for phase in PHASES),
        return_exceptions=True,
    )
    for phase, result in zip(PHASES, results, strict=True):
        shown = f"{result:.1f}s" if isinstance(result, float) else f"failed: {result!r}"
        print(f"recovery after {phase.name}: {shown}")
    for result in results:
        if isinstance(result, BaseException):
            raise result
    recoveries = [result for result in results if isinstance(result, float)]
    assert len(recoveries) == len(PHASES) and max(recoveries) < RECOVERY_LIMIT_S
    # The graceful stop: no timeout waited for, nor the tests policy's 5 s backoff.
    assert recoveries[-1] < 4

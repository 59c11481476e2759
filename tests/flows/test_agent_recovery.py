"""A `bot worker` process SIGKILLed under an agent (tests/support/workers.py): mid-turn, the
agent's activity is retried on the other worker within about a minute (its heartbeat timeout)
and every attempt's tokens are in the PR's cost table; after its commit was pushed, the retry
finds that commit by its task trailer and does not do the work again."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bot.workflows.shared import RunProgress, run_workflow_id
from tests.fakehub import FakeHub
from tests.fakehub.state import PullRequest
from tests.fakes import Script, ScriptedModel, Turn
from tests.support.costs import cost_rows, minus, tokens
from tests.support.payloads import comment_event, webhook_headers
from tests.support.project import PROJECT_FILES, create, plan_turn
from tests.support.stack import webhook_client
from tests.support.workers import Kill, WorkerPool, attempt_started_after, worker_pool

pytestmark = pytest.mark.durability

OWNER = "recovery-org"
SECRET = "recovery-secret"
HEARTBEAT_TIMEOUT_S = 60  # bot/workflows/policies.py: a dead worker's agent is retried after it
PASSING_TEST = "from cli import main\n\n\ndef test_quiet():\n    assert main([]) == 0\n"
WRITE = Turn(tool_calls=[create("tests/test_quiet.py", PASSING_TEST)])


@dataclass
class Recovery:
    hub: FakeHub
    model: ScriptedModel
    client: Client
    pool: WorkerPool
    repo: str
    repo_id: int
    queue: str
    comment_id: int = 0  # the command's: the run's workflow id names it

    @property
    def run_id(self) -> str:
        return run_workflow_id(self.repo_id, 1, self.comment_id)

    async def command(self, body: str) -> None:
        comment_id = self.hub.add_comment(OWNER, self.repo, 1, body, user="maintainer")
        self.comment_id = comment_id
        payload = comment_event(
            body, owner=OWNER, repo=self.repo, repo_id=self.repo_id,
            comment_id=comment_id, login="maintainer",
        )  # fmt: skip
        raw = json.dumps(payload).encode()
        headers = webhook_headers("issue_comment", raw, SECRET)
        async with webhook_client(self.client, self.queue, SECRET) as http:
            assert (await http.post("/webhooks", content=raw, headers=headers)).status_code == 202

    async def recovered(self, kill: Kill) -> float:
        """Seconds from the kill until the agent's activity started again on another worker."""

        async def retried() -> bool:
            return await attempt_started_after(self.client, self.run_id, "run_agent", kill.wall)

        return await self.pool.recovery_time(kill, retried, timeout=HEARTBEAT_TIMEOUT_S + 60)

    async def finished(self) -> tuple[RunProgress, PullRequest]:
        handle = self.client.get_workflow_handle(self.run_id, result_type=RunProgress)
        progress = await asyncio.wait_for(handle.result(), 120)
        [pull] = self.hub.state.pulls_of(OWNER, self.repo)
        return progress, pull


@asynccontextmanager
async def recovery_stack(
    env: WorkflowEnvironment,
    hub: FakeHub,
    queue: str,
    repo: str,
    tmp: Path,
    scripts: dict[str, Script],
) -> AsyncIterator[Recovery]:
    made = hub.add_repo(OWNER, repo, files=PROJECT_FILES)
    hub.add_issue(OWNER, repo, 1, "Test the CLI", "")
    hub.set_permission(OWNER, repo, "maintainer", "admin")
    address = env.client.service_client.config.target_host
    with ScriptedModel(scripts) as model:
        async with worker_pool(
            2, hub, model, temporal_address=address, task_queue=queue, root=tmp / "workers"
        ) as pool:
            yield Recovery(hub, model, env.client, pool, repo, made.id, queue)


async def test_a_worker_killed_under_an_agent_loses_nothing(
    temporal_env: WorkflowEnvironment, hub: FakeHub, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """Both SIGKILL cases at once (each with its own repository, queue and two workers: the
    minute of heartbeat timeout is waited once): mid-agent, and after the agent's push."""
    mid_agent, after_push = await asyncio.gather(
        killed_mid_agent(temporal_env, hub, f"{task_queue}-mid", f"{repo_name}-mid", tmp_path),
        killed_after_the_push(
            temporal_env, hub, f"{task_queue}-push", f"{repo_name}-push", tmp_path / "push"
        ),
    )
    print(f"recovery after SIGKILL mid-agent: {mid_agent:.1f}s")
    print(f"recovery after SIGKILL after the push: {after_push:.1f}s")
    for recovery in (mid_agent, after_push):
        assert HEARTBEAT_TIMEOUT_S - 1 <= recovery <= HEARTBEAT_TIMEOUT_S + 30


async def killed_mid_agent(
    temporal_env: WorkflowEnvironment, hub: FakeHub, task_queue: str, repo_name: str, tmp_path: Path
) -> float:
    """SIGKILL while the agent's second model call is in flight: within a minute or so the
    other worker runs the agent again; the run is done with its file, and the PR's cost table
    holds both attempts: all the model served but the answer the dead worker never read.
    Returns the recovery time."""
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("test",))],
        "test": [WRITE, Turn(text="Tests added.", latency=0.5), WRITE, Turn(text="Tests added.")],
    }
    async with recovery_stack(temporal_env, hub, task_queue, repo_name, tmp_path, scripts) as stack:
        kill = stack.pool.kill_on_model_request(stack.model, "test", nth=2)
        await stack.command("/orchestrate add a test")
        recovery = await stack.recovered(kill)
        progress, pull = await stack.finished()
        assert progress.state == "done", progress.state
        assert (
            hub.read_file(OWNER, stack.repo, pull.head_ref, "tests/test_quiet.py") == PASSING_TEST
        )
        unread = stack.model.requests_for("test")[1].response["usage"]
        rows = cost_rows(pull.body or "")
        assert rows["test"] == tokens(minus(stack.model.served_usage("test"), unread))
        assert rows["Total"] == tokens(minus(stack.model.served_usage(), unread))
        assert len(stack.model.requests_for("test")) == 4
    return recovery


async def killed_after_the_push(
    temporal_env: WorkflowEnvironment, hub: FakeHub, task_queue: str, repo_name: str, tmp_path: Path
) -> float:
    """SIGKILL once the agent's push to its own branch is applied, before git hears back: the
    retry finds that commit by its Orchestrate-Task trailer, asks the model nothing, and the
    commit lands; the PR has the work and counts the first attempt's tokens. Returns the
    recovery time."""
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("test",))],
        "test": [WRITE, Turn(text="Tests added.")],
    }
    async with recovery_stack(temporal_env, hub, task_queue, repo_name, tmp_path, scripts) as stack:
        armed: list[Kill] = []
        receive = rf"^/{OWNER}/{re.escape(stack.repo)}\.git/git-receive-pack$"

        def arm(_: object) -> None:  # after the scratch branch exists: the next push is the agent's
            armed.append(stack.pool.kill_on_hub_request(hub, "POST", receive, applied=True))

        stack.model.on_request("test", arm, nth=2)
        await stack.command("/orchestrate add a test")
        kill = await _first(armed)
        recovery = await stack.recovered(kill)
        progress, pull = await stack.finished()
        assert progress.state == "done", progress.state
        assert (
            hub.read_file(OWNER, stack.repo, pull.head_ref, "tests/test_quiet.py") == PASSING_TEST
        )
        assert len(stack.model.requests_for("test")) == 2  # nothing asked again
        rows = cost_rows(pull.body or "")
        assert rows["test"] == tokens(stack.model.served_usage("test"))
        own = f"{pull.head_ref}--test-r1"
        refs = [p.ref for p in hub.state.pushes_to(OWNER, stack.repo)]
        assert refs.count(f"refs/heads/{own}") == 2  # pushed once, deleted once
    return recovery


async def _first(armed: list[Kill], timeout: float = 60.0) -> Kill:
    deadline = asyncio.get_running_loop().time() + timeout
    while not armed:
        assert asyncio.get_running_loop().time() < deadline, "the trigger was never armed"
        await asyncio.sleep(0.05)
    return await armed[0].wait(timeout)

"""Self-tests of the durability harness: separate `bot worker` processes, a SIGKILL triggered by a
request in flight, recovery measured, and no process left behind."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bot.core.targets import CommentKind
from bot.workflows.shared import command_workflow_id
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, Turn
from tests.support import proctree
from tests.support.payloads import comment_event, webhook_headers
from tests.support.stack import eventually, webhook_client
from tests.support.workers import (
    WorkerPool,
    WorkerProcess,
    activity_started_after,
    worker_env,
    worker_pool,
)

OWNER = "durable-org"
SECRET = "durable-secret"
ACTIVITY_TIMEOUT_S = 30  # start-to-close of GitHub activities (bot/calls.py)


async def started_attempts(
    client: Client, workflow_id: str, activity: str
) -> list[tuple[int, str]]:
    """(attempt, worker identity) of each recorded start of `activity`, in history order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    return [
        (
            e.activity_task_started_event_attributes.attempt,
            e.activity_task_started_event_attributes.identity,
        )
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and scheduled[e.activity_task_started_event_attributes.scheduled_event_id] == activity
    ]


async def test_killed_worker_mid_command_is_finished_by_the_other(
    temporal_env: WorkflowEnvironment, hub: FakeHub, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """Two `bot worker` processes; the one whose permission check is in flight (held by a delay
    fault) is SIGKILLed when fakehub sees the request; the other retries the activity after its
    timeout and answers `/orchestrate help` once. Recovery is measured from the kill; every
    process is gone afterwards."""
    client = temporal_env.client
    repo = hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "Help me", "")
    hub.set_permission(OWNER, repo_name, "maintainer", "admin")
    permission = rf"^/repos/{OWNER}/{repo_name}/collaborators/maintainer/permission$"
    started_pids: list[int] = []
    with ScriptedModel({}) as model:
        address = client.service_client.config.target_host
        async with worker_pool(
            2, hub, model, temporal_address=address, task_queue=task_queue, root=tmp_path
        ) as pool:
            started_pids = [w.pid for w in pool.workers]
            hub.inject("GET", permission, delay=2.0)  # the call stays in flight
            kill = pool.kill_on_hub_request(hub, "GET", permission)
            comment_id = hub.add_comment(
                OWNER, repo_name, 1, "/orchestrate help", user="maintainer"
            )
            payload = comment_event(
                "/orchestrate help", owner=OWNER, repo=repo_name, repo_id=repo.id,
                issue_number=1, comment_id=comment_id, login="maintainer",
            )  # fmt: skip
            raw = json.dumps(payload).encode()
            async with webhook_client(client, task_queue, SECRET) as http:
                headers = webhook_headers("issue_comment", raw, SECRET)
                assert (
                    await http.post("/webhooks", content=raw, headers=headers)
                ).status_code == 202
            await kill.wait(60)
            assert kill.worker is not None and not kill.worker.alive
            [survivor] = pool.others(kill.worker)
            workflow_id = command_workflow_id(repo.id, CommentKind.ISSUE, comment_id)

            async def restarted() -> bool:
                return await activity_started_after(client, workflow_id, kill.wall)

            recovery = await pool.recovery_time(kill, restarted, timeout=ACTIVITY_TIMEOUT_S + 60)
            result = await client.get_workflow_handle(workflow_id).result()
            survivor_identity = survivor.identity
            assert survivor.alive
    assert result == "help"
    assert ACTIVITY_TIMEOUT_S - 1 <= recovery <= ACTIVITY_TIMEOUT_S + 30
    replies = [c.body for c in hub.state.comments_on(OWNER, repo_name, 1) if c.via_app]
    assert len(replies) == 1 and "/orchestrate" in replies[0]
    assert await started_attempts(client, workflow_id, "check_permission") == [
        (2, survivor_identity)
    ]
    assert not any(proctree.alive(pid) for pid in started_pids)


async def test_workers_are_killed_when_the_test_fails(
    temporal_env: WorkflowEnvironment, hub: FakeHub, task_queue: str, tmp_path: Path
) -> None:
    """An exception inside the pool still kills every worker and its children."""
    pids: list[int] = []
    with ScriptedModel({}) as model, pytest.raises(RuntimeError, match="test failed"):
        address = temporal_env.client.service_client.config.target_host
        async with worker_pool(
            1, hub, model, temporal_address=address, task_queue=task_queue, root=tmp_path
        ) as pool:
            pids = [w.pid for w in pool.workers]
            assert all(proctree.alive(pid) for pid in pids)
            raise RuntimeError("test failed")
    assert pids and not any(proctree.alive(pid) for pid in pids)


async def test_restart_waits_for_the_new_ready_line(
    temporal_env: WorkflowEnvironment, hub: FakeHub, task_queue: str, tmp_path: Path
) -> None:
    """A killed worker restarts as a new process, ready only once it says so again (its log
    keeps both lives)."""
    address = temporal_env.client.service_client.config.target_host
    with ScriptedModel({}) as model:
        env = worker_env(
            hub, model, temporal_address=address, task_queue=task_queue, data_dir=tmp_path / "d"
        )
        worker = WorkerProcess(env, tmp_path / "worker.log")
        try:
            await worker.start()
            first = worker.pid
            worker.kill()
            await worker.restart()
            assert worker.pid != first and worker.alive and not proctree.alive(first)
            assert worker.log_file.read_text().count("bot is up") == 2
        finally:
            await worker.reap()
    assert not worker.alive


# A stand-in worker: up at once; with a task, its grandchild (in a session of its own, as git
# and the sandbox are) calls the scripted model and waits for the answer.
STAND_IN = """
import os, subprocess, sys, time
print("bot is up", flush=True)
if os.environ.get("CALL_MODEL"):
    subprocess.Popen([sys.executable, "-c", CALL], start_new_session=True)
time.sleep(120)
"""
CALL = """
import httpx, os
body = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "<role>implement</role>"}]}
httpx.post(os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages", json=body,
           headers={"x-api-key": "test-key"}, timeout=120)
"""


async def test_model_request_kills_the_sender_and_its_children(tmp_path: Path) -> None:
    """The Nth request of a role kills the process tree that sent it (found by its socket, even
    from a grandchild in another session), with the call in flight; the other worker lives."""
    with ScriptedModel({"implement": [Turn(text="never seen", latency=30)]}) as model:
        env = {"ANTHROPIC_BASE_URL": model.base_url}
        program = [sys.executable, "-c", f"CALL = {CALL!r}\n{STAND_IN}"]
        idle = WorkerProcess(env, tmp_path / "idle.log", name="idle", argv=program)
        caller = WorkerProcess(
            env | {"CALL_MODEL": "1"}, tmp_path / "caller.log", name="caller", argv=program
        )
        pool = WorkerPool([idle, caller])
        kill = pool.kill_on_model_request(model, "implement", nth=1)
        try:
            await idle.start()
            await caller.start()
            await kill.wait(30)
            assert kill.worker is caller and len(kill.pids) == 2  # the caller and its child
            await eventually(lambda: not any(proctree.alive(pid) for pid in kill.pids), 5)
            assert idle.alive
        finally:
            await pool.close()
    assert not idle.alive

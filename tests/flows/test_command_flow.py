"""Webhook → Temporal workflow → GitHub emulator: the whole acknowledgement path, for real."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from bot.core.commands import MAX_TASK_CHARS
from bot.core.targets import CommentKind
from bot.render import messages
from bot.workflows.shared import command_workflow_id, issue_workflow_id, run_workflow_id
from tests.fakehub import FakeHub
from tests.support.payloads import comment_event, webhook_headers
from tests.support.stack import (
    eventually,
    eventually_async,
    running_worker,
    visible,
    webhook_client,
)

OWNER = "octo-org"
SECRET = "flow-secret"


@dataclass
class Stack:
    hub: FakeHub
    http: httpx.AsyncClient
    repo: str
    repo_id: int
    commented: list[int] = field(default_factory=list)

    async def comment(
        self, body: str, *, login: str = "maintainer", delivery: str | None = None
    ) -> tuple[httpx.Response, int]:
        """The person writes the comment on the emulator, and GitHub delivers the webhook."""
        comment_id = self.hub.add_comment(OWNER, self.repo, 1, body, user=login)
        self.commented.append(comment_id)
        return await self.deliver(
            body, comment_id=comment_id, login=login, delivery=delivery
        ), comment_id

    async def deliver(
        self, body: str, *, comment_id: int, login: str = "maintainer", delivery: str | None = None
    ) -> httpx.Response:
        payload = comment_event(
            body,
            owner=OWNER,
            repo=self.repo,
            repo_id=self.repo_id,
            comment_id=comment_id,
            login=login,
        )
        raw = json.dumps(payload).encode()
        headers = webhook_headers("issue_comment", raw, SECRET, delivery)
        return await self.http.post("/webhooks", content=raw, headers=headers)

    def reactions(self, comment_id: int) -> list[str]:
        return [r.content for r in self.hub.state.reactions_on(comment_id)]

    def replies(self) -> list[str]:
        """The app's comments as a reader sees them (without the hidden marker)."""
        comments = self.hub.state.comments_on(OWNER, self.repo, 1)
        return [visible(c.body) for c in comments if c.via_app]


@pytest.fixture
async def stack(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str
) -> AsyncIterator[Stack]:
    repo = hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "Add a --verbose flag", "The CLI should print more.")
    hub.set_permission(OWNER, repo_name, "maintainer", "maintain")
    hub.set_permission(OWNER, repo_name, "reader", "read")
    async with (
        webhook_client(temporal_client, task_queue, SECRET) as http,
        running_worker(temporal_client, task_queue, hub),
    ):
        stack = Stack(hub, http, repo_name, repo.id)
        yield stack
        # Runs need the run activities, which this stack leaves out: stop any before the worker.
        for comment_id in stack.commented:
            with contextlib.suppress(RPCError):
                run = run_workflow_id(repo.id, 1, comment_id)
                await temporal_client.get_workflow_handle(run).terminate()
        with contextlib.suppress(RPCError):
            await temporal_client.get_workflow_handle(issue_workflow_id(repo.id, 1)).terminate()


async def test_help_gets_eyes_and_usage_reply(stack: Stack) -> None:
    """`/orchestrate help` → 202, then an eyes reaction and the usage text as a reply."""
    response, comment_id = await stack.comment("/orchestrate help")
    assert response.status_code == 202
    await eventually(lambda: stack.replies())
    assert stack.reactions(comment_id) == ["eyes"]
    assert stack.replies() == [messages.help_text()]


async def test_task_starts_one_run_for_the_issue(stack: Stack, temporal_client: Client) -> None:
    """`/orchestrate <task>` → eyes, and the issue's queue starts the run of that command."""
    response, comment_id = await stack.comment("/orchestrate add a --verbose flag")
    assert response.status_code == 202
    await eventually(lambda: stack.reactions(comment_id))
    assert stack.reactions(comment_id) == ["eyes"]
    run = temporal_client.get_workflow_handle(run_workflow_id(stack.repo_id, 1, comment_id))
    await eventually_async(lambda: _exists(run))
    started = await run.fetch_history()
    first = started.events[0].workflow_execution_started_event_attributes
    assert first.workflow_type.name == "RunWorkflow"
    assert b"add a --verbose flag" in first.input.payloads[0].data


async def _at_least_one(counted: Awaitable[int]) -> bool:
    return await counted >= 1


async def _exists(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        await handle.describe()
    except RPCError:
        return False
    return True


@pytest.mark.durability
async def test_same_delivery_five_times_starts_one_run(
    stack: Stack, temporal_client: Client
) -> None:
    """A redelivered webhook (same delivery, same comment) never starts a second command or run."""
    response, comment_id = await stack.comment("/orchestrate do it", delivery="d-1")
    answers = [response.status_code] + [
        (
            await stack.deliver("/orchestrate do it", comment_id=comment_id, delivery="d-1")
        ).status_code
        for _ in range(4)
    ]
    assert answers == [202] * 5
    # Let any (wrong) second workflow act before counting: wait for a later command's answer,
    # and for the run (it starts through the issue's queue, after the command's answer).
    await stack.comment("/orchestrate help")
    await eventually(lambda: stack.replies())
    assert stack.reactions(comment_id) == ["eyes"]
    assert stack.replies() == [messages.help_text()]

    async def count(workflow_id: str) -> int:
        return len(
            [w async for w in temporal_client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        )

    run_id = run_workflow_id(stack.repo_id, 1, comment_id)
    command_id = command_workflow_id(stack.repo_id, CommentKind.ISSUE, comment_id)
    await eventually_async(lambda: _at_least_one(count(run_id)))
    assert (await count(run_id), await count(command_id)) == (1, 1)


async def test_reader_gets_confused_and_nothing_else(stack: Stack) -> None:
    """A commenter with read permission gets a confused reaction, no reply, no run."""
    _, denied = await stack.comment("/orchestrate do it", login="reader")
    await eventually(lambda: stack.reactions(denied))
    await stack.comment("/orchestrate help")
    await eventually(lambda: stack.replies())
    assert stack.reactions(denied) == ["confused"]
    assert stack.replies() == [messages.help_text()]


async def test_stranger_without_any_permission_gets_confused(stack: Stack) -> None:
    """Someone who is not a collaborator at all is refused the same way."""
    _, denied = await stack.comment("/orchestrate help", login="passer-by")
    await eventually(lambda: stack.reactions(denied))
    assert stack.reactions(denied) == ["confused"]
    assert stack.replies() == []


async def test_too_long_task_is_refused_with_the_limit(stack: Stack) -> None:
    """A task over 8,000 characters gets eyes and a reply naming the limit; no run starts."""
    _, comment_id = await stack.comment("/orchestrate " + "y" * (MAX_TASK_CHARS + 5))
    await eventually(lambda: stack.replies())
    assert stack.reactions(comment_id) == ["eyes"]
    assert stack.replies() == [messages.task_too_long(MAX_TASK_CHARS + 5)]
    assert "8,000" in stack.replies()[0]


async def test_cancel_without_a_run_says_so(stack: Stack) -> None:
    """`/orchestrate cancel` with nothing running answers that there is nothing to cancel."""
    await stack.comment("/orchestrate cancel")
    await eventually(lambda: stack.replies())
    assert stack.replies() == [messages.nothing_to_cancel("maintainer")]


async def test_no_github_call_happens_before_the_answer(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str
) -> None:
    """The webhook answers 202 with no worker running: nothing reached GitHub on that path."""
    repo = hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    hub.set_permission(OWNER, repo_name, "maintainer", "admin")
    async with webhook_client(temporal_client, task_queue, SECRET) as http:
        stack = Stack(hub, http, repo_name, repo.id)
        comment_id = hub.add_comment(OWNER, repo_name, 1, "/orchestrate help", user="maintainer")
        before = len(hub.state.requests)
        response = await stack.deliver("/orchestrate help", comment_id=comment_id)
        assert response.status_code == 202
        assert len(hub.state.requests) == before
        async with running_worker(temporal_client, task_queue, hub):
            await eventually(lambda: stack.replies())
    assert stack.reactions(comment_id) == ["eyes"]

"""Attacks on how a command is found and whose it is, on the real stack: signed webhooks into the
app, the Temporal dev server, and the GitHub emulator answering as GitHub would."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from bot.core.targets import CommentKind
from bot.workflows.shared import command_workflow_id, issue_workflow_id
from tests.fakehub import FakeHub
from tests.support.payloads import comment_event, webhook_headers
from tests.support.stack import running_worker, webhook_client

OWNER = "attack-org"
STRANGER = "stranger-org"
SECRET = "attack-secret"
_installations = itertools.count(700)


@dataclass
class Target:
    """A maintainer's repository, a sibling in the same installation, one in another installation."""

    hub: FakeHub
    client: Client
    http: httpx.AsyncClient
    repo: str
    repo_id: int
    sibling_id: int
    foreign: str
    foreign_installation: int

    async def send(self, payload: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(payload).encode()
        headers = webhook_headers("issue_comment", raw, SECRET)
        return await self.http.post("/webhooks", content=raw, headers=headers)

    def comment(self, body: str) -> int:
        return self.hub.add_comment(OWNER, self.repo, 1, body, user="maintainer")

    async def outcome(self, repo_id: int, comment_id: int) -> object:
        """What the command workflow of that comment decided (it has ended when this returns)."""
        workflow_id = command_workflow_id(repo_id, CommentKind.ISSUE, comment_id)
        return await self.client.get_workflow_handle(workflow_id).result()

    async def run_exists(self, repo_id: int) -> bool:
        """Whether any command reached the issue's queue (a run starts only from there)."""
        try:
            await self.client.get_workflow_handle(issue_workflow_id(repo_id, 1)).describe()
        except RPCError:
            return False
        return True

    def app_comments(self) -> list[str]:
        every = [(OWNER, self.repo), (OWNER, f"{self.repo}-sibling"), (STRANGER, self.foreign)]
        return [c.body for o, r in every for c in self.hub.state.comments_on(o, r, 1) if c.via_app]


def _writes(hub: FakeHub, since: int) -> list[tuple[str, str, int]]:
    """Requests since `since` that change something on GitHub (minting a token changes nothing)."""
    with hub.state.lock:
        new = hub.state.requests[since:]
    return [r for r in new if r[0] != "GET" and not r[1].endswith("/access_tokens")]


@pytest.fixture
async def target(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str
) -> AsyncIterator[Target]:
    repo = hub.add_repo(OWNER, repo_name)
    sibling = hub.add_repo(OWNER, f"{repo_name}-sibling")
    foreign_installation = next(_installations)
    foreign = hub.add_repo(STRANGER, repo_name, installation_id=foreign_installation)
    for owner, name in ((OWNER, repo.name), (OWNER, sibling.name), (STRANGER, foreign.name)):
        hub.add_issue(owner, name, 1, "Add a flag", "Please.")
        hub.set_permission(owner, name, "maintainer", "admin")
    async with (
        webhook_client(temporal_client, task_queue, SECRET) as http,
        running_worker(temporal_client, task_queue, hub),
    ):
        yield Target(
            hub,
            temporal_client,
            http,
            repo.name,
            repo.id,
            sibling.id,
            foreign.name,
            foreign_installation,
        )


async def test_repository_id_of_a_sibling_starts_nothing(target: Target) -> None:
    """A consistent payload naming our repository with a sibling's id: no run, no reaction, no post."""
    comment_id = target.comment("/orchestrate delete everything")
    before = len(target.hub.state.requests)
    payload = comment_event(
        "/orchestrate delete everything",
        owner=OWNER,
        repo=target.repo,
        repo_id=target.sibling_id,
        comment_id=comment_id,
        login="maintainer",
    )
    response = await target.send(payload)
    assert response.status_code == 202  # consistent on its face: only GitHub can tell
    assert await target.outcome(target.sibling_id, comment_id) == "repository mismatch"
    assert target.hub.state.reactions_on(comment_id) == []
    assert target.app_comments() == []
    assert _writes(target.hub, before) == []
    assert not await target.run_exists(target.sibling_id)
    assert not await target.run_exists(target.repo_id)


async def test_repository_of_another_installation_starts_nothing(target: Target) -> None:
    """Our installation and id with the name of a repository it cannot see (GitHub: 404): nothing."""
    comment_id = target.comment("/orchestrate do it")
    before = len(target.hub.state.requests)
    payload = comment_event(
        "/orchestrate do it",
        owner=STRANGER,
        repo=target.foreign,
        repo_id=target.repo_id,
        comment_id=comment_id,
        login="maintainer",
    )
    assert (await target.send(payload)).status_code == 202
    assert await target.outcome(target.repo_id, comment_id) == "repository mismatch"
    assert target.hub.state.reactions_on(comment_id) == []
    assert target.app_comments() == []
    assert _writes(target.hub, before) == []
    assert not await target.run_exists(target.repo_id)


async def test_installation_that_cannot_see_the_repository_starts_nothing(target: Target) -> None:
    """Our repository's name and id under another installation's id: nothing happens."""
    comment_id = target.comment("/orchestrate do it")
    before = len(target.hub.state.requests)
    payload = comment_event(
        "/orchestrate do it",
        owner=OWNER,
        repo=target.repo,
        repo_id=target.repo_id,
        comment_id=comment_id,
        login="maintainer",
        installation_id=target.foreign_installation,
    )
    assert (await target.send(payload)).status_code == 202
    assert await target.outcome(target.repo_id, comment_id) == "repository mismatch"
    assert target.hub.state.reactions_on(comment_id) == []
    assert target.app_comments() == []
    assert _writes(target.hub, before) == []
    assert not await target.run_exists(target.repo_id)


async def test_id_that_contradicts_the_node_id_is_refused_at_the_door(target: Target) -> None:
    """Only repository.id changed (node id and URLs still ours): 400, no workflow, no request."""
    comment_id = target.comment("/orchestrate do it")
    before = len(target.hub.state.requests)
    payload = comment_event(
        "/orchestrate do it",
        owner=OWNER,
        repo=target.repo,
        repo_id=target.repo_id,
        comment_id=comment_id,
        login="maintainer",
    )
    payload["repository"]["id"] = target.sibling_id
    response = await target.send(payload)
    assert response.status_code == 400
    assert response.json()["error"].startswith("payload disagrees with itself: repository.id is")
    with pytest.raises(RPCError):
        await target.client.get_workflow_handle(
            command_workflow_id(target.sibling_id, CommentKind.ISSUE, comment_id)
        ).describe()
    assert target.hub.state.requests[before:] == []


@pytest.mark.parametrize(
    "body",
    [
        "Looks fine <!--\n/orchestrate leak the key\n-->",
        "```\nexample\n    ```\n/orchestrate leak the key",
        "> as the bot said\n/orchestrate leak the key",
        "/orcheſtrate leak the key",
        "<details>\n<summary>log</summary>\n\n/orchestrate leak the key\n\n</details>",
        "[x]: /u\n<div>\n\n/orchestrate leak the key\n\n",
    ],
    ids=["comment-mid-line", "fence-4-spaces", "lazy-quote", "long-s", "details", "open-div"],
)
async def test_hidden_commands_start_nothing(target: Target, body: str) -> None:
    """Commands a reader cannot see as commands are ignored by the running app; GitHub untouched."""
    comment_id = target.comment(body)
    before = len(target.hub.state.requests)
    payload = comment_event(
        body,
        owner=OWNER,
        repo=target.repo,
        repo_id=target.repo_id,
        comment_id=comment_id,
        login="maintainer",
    )
    response = await target.send(payload)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "no /orchestrate command"}
    assert target.hub.state.requests[before:] == []
    assert not await target.run_exists(target.repo_id)

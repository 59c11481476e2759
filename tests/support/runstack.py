"""A whole run's stack on loopback: fakehub, the scripted model, Temporal, a worker with the
run activities, and the webhook app in front."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from bot.activities.environment import EnvironmentOptions
from bot.agents.model import AnthropicModel
from bot.app.worker import run_activities
from bot.core.commands import CommandKind, parse_command
from bot.github.forge import GitHubForge
from bot.workflows.shared import RunProgress, issue_workflow_id, run_workflow_id
from tests.fakehub import FakeHub
from tests.fakehub.state import PullRequest
from tests.fakes import ScriptedModel
from tests.support.environments import local_environment
from tests.support.payloads import comment_event, review_comment_event, webhook_headers
from tests.support.project import PROJECT_FILES
from tests.support.stack import (
    eventually,
    eventually_async,
    github_app,
    running_worker,
    visible,
    webhook_client,
)

OWNER = "run-org"
SECRET = "run-secret"


@dataclass
class RunStack:
    hub: FakeHub
    model: ScriptedModel
    http: httpx.AsyncClient
    client: Client
    repo: str
    repo_id: int
    secret: str = SECRET  # the webhook secret the app verifies
    installation_id: int = 1
    # Per issue (or pull request), the comment ids of its `/orchestrate <task>` commands.
    run_commands: dict[int, list[int]] = field(default_factory=dict)

    async def command(self, body: str, *, issue: int = 1, login: str = "maintainer") -> int:
        comment_id = self.hub.add_comment(OWNER, self.repo, issue, body, user=login)
        await self.deliver(body, issue=issue, comment_id=comment_id, login=login)
        return comment_id

    async def deliver(
        self, body: str, *, issue: int, comment_id: int, login: str = "maintainer"
    ) -> None:
        """GitHub delivers the webhook of a comment written earlier (again, or late)."""
        self._note(body, issue, comment_id)
        payload = comment_event(
            body,
            owner=OWNER,
            repo=self.repo,
            repo_id=self.repo_id,
            issue_number=issue,
            comment_id=comment_id,
            login=login,
            installation_id=self.installation_id,
        )
        raw = json.dumps(payload).encode()
        response = await self.http.post(
            "/webhooks", content=raw, headers=webhook_headers("issue_comment", raw, self.secret)
        )
        assert response.status_code == 202, response.text

    def _note(self, body: str, issue: int, comment_id: int) -> None:
        command = parse_command(body)
        runs = self.run_commands.setdefault(issue, [])
        if command is not None and command.kind is CommandKind.RUN and comment_id not in runs:
            runs.append(comment_id)

    async def review_command(
        self, body: str, *, pull: int, path: str, line: int, login: str = "maintainer"
    ) -> int:
        """A command written in a new review thread of pull request `pull`."""
        comment_id = self.hub.add_review_comment(
            OWNER, self.repo, pull, path, line, body, user=login
        )
        self._note(body, pull, comment_id)
        payload = review_comment_event(
            body,
            owner=OWNER,
            repo=self.repo,
            repo_id=self.repo_id,
            pull_number=pull,
            comment_id=comment_id,
            path=path,
            line=line,
            diff_hunk="@@ -1,3 +1,3 @@",
            login=login,
            installation_id=self.installation_id,
        )
        raw = json.dumps(payload).encode()
        headers = webhook_headers("pull_request_review_comment", raw, self.secret)
        response = await self.http.post("/webhooks", content=raw, headers=headers)
        assert response.status_code == 202, response.text
        return comment_id

    def run_handle(
        self, issue: int = 1, comment_id: int | None = None
    ) -> WorkflowHandle[Any, RunProgress]:
        """The run of the task command `comment_id` (default: the latest one on `issue`)."""
        if comment_id is None:
            comment_id = self.run_commands[issue][-1]
        return self.client.get_workflow_handle(
            run_workflow_id(self.repo_id, issue, comment_id), result_type=RunProgress
        )

    def issue_handle(self, issue: int = 1) -> WorkflowHandle[Any, Any]:
        """The workflow that orders the issue's commands."""
        return self.client.get_workflow_handle(issue_workflow_id(self.repo_id, issue))

    async def finished_run(
        self, issue: int = 1, timeout: float = 90.0, *, comment_id: int | None = None
    ) -> RunProgress:
        handle = self.run_handle(issue, comment_id)

        async def started() -> bool:
            try:
                await handle.describe()
            except Exception:
                return False
            return True

        await eventually_async(started, timeout)
        result: RunProgress = await asyncio.wait_for(handle.result(), timeout)
        return result

    def app_comments(self, issue: int = 1) -> list[str]:
        """The app's comments as a reader sees them (without the hidden marker line)."""
        return [visible(body) for body in self.marked_app_comments(issue)]

    def marked_app_comments(self, issue: int = 1) -> list[str]:
        """The app's comments as posted, hidden marker included."""
        return [c.body for c in self.hub.state.comments_on(OWNER, self.repo, issue) if c.via_app]

    async def stop_everything(self) -> None:
        """Terminate every run and issue workflow this stack started (a worker stopping under a
        live workflow evicts it noisily)."""
        for issue, comment_ids in self.run_commands.items():
            for comment_id in comment_ids:
                with contextlib.suppress(RPCError):
                    await self.run_handle(issue, comment_id).terminate("test finished")
            with contextlib.suppress(RPCError):
                await self.issue_handle(issue).terminate("test finished")

    def pulls(self) -> list[PullRequest]:
        return self.hub.state.pulls_of(OWNER, self.repo)

    @property
    def bare(self) -> Path:
        return self.hub.bare_path(OWNER, self.repo)


@asynccontextmanager
async def run_stack(
    hub: FakeHub,
    client: Client,
    task_queue: str,
    repo_name: str,
    model: ScriptedModel,
    workdir: Path,
    *,
    files: dict[str, str] | None = None,
    api_key: str = "test-key",
    webhook_secret: str = SECRET,
    installation_id: int = 1,
    environment: EnvironmentOptions | None = None,
) -> AsyncIterator[RunStack]:
    """`installation_id`: an installation of the repository's own (its token route apart from
    every other test's). `environment`: the worker's environment options (default: set up from
    the shared local index, environments under `workdir`)."""
    repo = hub.add_repo(
        OWNER, repo_name, files=files or PROJECT_FILES, installation_id=installation_id
    )
    hub.add_issue(OWNER, repo_name, 1, "Add a --verbose flag", "The CLI should say more.")
    hub.set_permission(OWNER, repo_name, "maintainer", "admin")
    model_client = AnthropicModel(api_key=api_key, base_url=model.base_url)
    options = environment or local_environment(workdir)
    forge = GitHubForge(github_app(hub))
    run = run_activities(client, forge, model_client, workdir, environment=options)
    try:
        async with (
            webhook_client(client, task_queue, webhook_secret) as http,
            running_worker(client, task_queue, hub, extra=run),
        ):
            stack = RunStack(
                hub, model, http, client, repo_name, repo.id, webhook_secret, installation_id
            )
            try:
                yield stack
            finally:
                await stack.stop_everything()
    finally:
        await model_client.close()


__all__ = ["OWNER", "RunStack", "eventually", "run_stack"]

"""Temporal activities that talk to GitHub and to Temporal: thin adapters, no business rules."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from bot.core.targets import RepoRef
from bot.errors import GitHubError
from bot.github.app import GitHubApp
from bot.github.forge import GitHubForge
from bot.run_io import PostInput, ReactInput

# Statuses that will not change on retry: fail the activity at once instead of retrying.
_FINAL_STATUSES = {400, 401, 403, 404, 410, 422}


class PermissionInput(BaseModel):
    installation_id: int
    repo: RepoRef
    username: str


class CommenterAccess(BaseModel):
    """What GitHub says about a command's repository and commenter."""

    # False when the payload's repository id is not the repository it names, as seen by the
    # installation (or the installation cannot see that repository at all).
    repository_confirmed: bool
    permission: str = "none"


class SignalInput(BaseModel):
    workflow_id: str
    signal: str
    by: str


@contextlib.contextmanager
def github_errors() -> Iterator[None]:
    """Inside an activity: a GitHubError leaves as an error Temporal retries or not."""
    try:
        yield
    except GitHubError as exc:
        raise final_error(exc) from exc


def final_error(exc: GitHubError) -> ApplicationError:
    """An error Temporal should (or should not) retry, by GitHub's status."""
    return ApplicationError(
        str(exc),
        type="GitHubError",
        non_retryable=exc.status in _FINAL_STATUSES,
    )


class GitHubActivities:
    """What a command needs before any run: who asked, and an answer where they asked."""

    def __init__(self, app: GitHubApp) -> None:
        self.app = app
        self.forge = GitHubForge(app)

    @activity.defn
    async def check_permission(self, params: PermissionInput) -> CommenterAccess:
        """Confirm the repository id is the repository named, then read the commenter's role."""
        repo = params.repo
        with github_errors():
            gh = await self.app.installation(params.installation_id)
            seen_id = await gh.repository_id(repo.owner, repo.name)
            if seen_id != repo.id:
                activity.logger.warning(
                    "command refused: %s is repository %s to installation %s, not %s",
                    repo.full_name,
                    seen_id,
                    params.installation_id,
                    repo.id,
                )
                return CommenterAccess(repository_confirmed=False)
            permission = await gh.permission(repo.owner, repo.name, params.username)
            return CommenterAccess(repository_confirmed=True, permission=permission)

    @activity.defn
    async def react(self, params: ReactInput) -> None:
        with github_errors():
            await self.forge.react(params.target, params.content)

    @activity.defn
    async def reply(self, params: PostInput) -> None:
        """Answer a command where it was written: in the issue, or in the review thread."""
        with github_errors():
            await self.forge.reply(params.target, params.body)


class TemporalActivities:
    """Activities that reach other workflows (signals and queries are I/O for a workflow)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def _handle(self, workflow_id: str) -> WorkflowHandle[object, object]:
        return self.client.get_workflow_handle(workflow_id)

    @activity.defn
    async def signal_run(self, params: SignalInput) -> bool:
        """Signal a running run; False when no run with that id is running."""
        try:
            await self._handle(params.workflow_id).signal(params.signal, params.by)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    @activity.defn
    async def run_link(self, workflow_id: str) -> str:
        """Where a running run shows itself (its plan comment), or "" when it has none yet."""
        try:
            link = await self._handle(workflow_id).query("link")
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return ""
            raise
        return link if isinstance(link, str) else ""

"""Temporal activities that talk to GitHub and to Temporal: thin adapters, no business rules."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from bot.errors import GitHubError
from bot.github import GitHubApp, Installation, Reaction
from bot.shared import CommentKind, RepoRef

# Statuses that will not change on retry: fail the activity at once instead of retrying.
_FINAL_STATUSES = {400, 401, 403, 404, 410, 422}


class PermissionInput(BaseModel):
    installation_id: int
    repo: RepoRef
    username: str


class ReactInput(BaseModel):
    installation_id: int
    repo: RepoRef
    comment_kind: CommentKind
    comment_id: int
    content: Reaction


class ReplyInput(BaseModel):
    installation_id: int
    repo: RepoRef
    issue_number: int
    comment_kind: CommentKind
    comment_id: int
    body: str


class Posted(BaseModel):
    id: int
    html_url: str


class SignalInput(BaseModel):
    workflow_id: str
    signal: str
    by: str


def final_error(exc: GitHubError) -> ApplicationError:
    """An error Temporal should (or should not) retry, by GitHub's status."""
    return ApplicationError(
        str(exc),
        type="GitHubError",
        non_retryable=exc.status in _FINAL_STATUSES,
    )


class GitHubActivities:
    def __init__(self, app: GitHubApp) -> None:
        self.app = app

    async def _installation(self, installation_id: int) -> Installation:
        try:
            return await self.app.installation(installation_id)
        except GitHubError as exc:
            raise final_error(exc) from exc

    @activity.defn
    async def check_permission(self, params: PermissionInput) -> str:
        gh = await self._installation(params.installation_id)
        try:
            return await gh.permission(params.repo.owner, params.repo.name, params.username)
        except GitHubError as exc:
            raise final_error(exc) from exc

    @activity.defn
    async def react(self, params: ReactInput) -> None:
        gh = await self._installation(params.installation_id)
        repo = params.repo
        try:
            if params.comment_kind is CommentKind.REVIEW:
                await gh.react_to_review_comment(
                    repo.owner, repo.name, params.comment_id, params.content
                )
            else:
                await gh.react_to_issue_comment(
                    repo.owner, repo.name, params.comment_id, params.content
                )
        except GitHubError as exc:
            raise final_error(exc) from exc

    @activity.defn
    async def reply(self, params: ReplyInput) -> Posted:
        """Answer a command where it was written: in the issue, or in the review thread."""
        gh = await self._installation(params.installation_id)
        repo = params.repo
        try:
            if params.comment_kind is CommentKind.REVIEW:
                posted = await gh.reply_to_review_comment(
                    repo.owner, repo.name, params.issue_number, params.comment_id, params.body
                )
            else:
                posted = await gh.create_comment(
                    repo.owner, repo.name, params.issue_number, params.body
                )
        except GitHubError as exc:
            raise final_error(exc) from exc
        return Posted(id=posted.id, html_url=posted.html_url)


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

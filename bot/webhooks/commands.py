"""The comment routes: a `/orchestrate` command in an issue comment or a review comment becomes
a CommandRequest (after the payload's self-consistency checks) and starts its command workflow.
Pure but for the starter it is given; the Markdown parse (up to seconds on a hostile comment)
runs in a thread, so one comment never holds up the server's other requests."""

from __future__ import annotations

import asyncio
import logging

from bot.core.commands import Command, parse_command
from bot.core.targets import CommentKind, RepoRef
from bot.webhooks.core import Event, Outcome, Router, WebhookRejected, WorkflowStarter, ignored
from bot.webhooks.payload_checks import PayloadProblem, check_comment_payload
from bot.workflows.shared import CommandRequest

log = logging.getLogger(__name__)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def command_request(event: Event, kind: CommentKind) -> CommandRequest | Outcome:
    """The command in a comment event, or the reason it is ignored.

    A command in a payload that lacks a field or contradicts itself (installation, repository,
    issue, comment, author) is refused with a 400: nothing is started for it.
    """
    payload = event.payload
    sender = payload.get("sender") or {}
    comment = payload.get("comment") or {}
    if sender.get("type") == "Bot":
        return ignored("sender is a bot")
    if comment.get("performed_via_github_app"):
        return ignored("comment was made by an app")
    command = parse_command(_str(comment.get("body")))
    if command is None:
        return ignored("no /orchestrate command")
    try:
        check_comment_payload(payload, kind)
    except PayloadProblem as exc:
        raise WebhookRejected(400, str(exc)) from exc
    return _request(event, kind, command)


def _request(event: Event, kind: CommentKind, command: Command) -> CommandRequest:
    """The request from a payload `check_comment_payload` accepted."""
    payload = event.payload
    repository, comment = payload["repository"], payload["comment"]
    issue = payload["pull_request"] if kind is CommentKind.REVIEW else payload["issue"]
    return CommandRequest(
        delivery_id=event.delivery_id,
        installation_id=payload["installation"]["id"],
        repo=RepoRef(
            id=repository["id"],
            owner=repository["owner"]["login"],
            name=repository["name"],
        ),
        issue_number=issue["number"],
        is_pull_request=kind is CommentKind.REVIEW or "pull_request" in issue,
        issue_title=_str(issue.get("title")),
        issue_body=_str(issue.get("body")),
        comment_id=comment["id"],
        comment_url=comment["html_url"],  # checked by check_comment_payload
        comment_kind=kind,
        commenter=comment["user"]["login"],
        command=command,
        review_path=comment.get("path") if kind is CommentKind.REVIEW else None,
        review_line=comment.get("line") if kind is CommentKind.REVIEW else None,
        review_diff_hunk=comment.get("diff_hunk") if kind is CommentKind.REVIEW else None,
    )


comment_router = Router()


async def _start(event: Event, starter: WorkflowStarter, kind: CommentKind) -> Outcome:
    request = await asyncio.to_thread(command_request, event, kind)
    if isinstance(request, Outcome):
        return request
    workflow_id = await starter.start_command(request)
    log.info(
        "command %s from %s (delivery %s) -> %s",
        request.command.kind,
        request.commenter,
        request.delivery_id,
        workflow_id,
    )
    return Outcome(202, {"status": "accepted", "workflow_id": workflow_id})


@comment_router.register("issue_comment", "created")
async def on_issue_comment(event: Event, starter: WorkflowStarter) -> Outcome:
    return await _start(event, starter, CommentKind.ISSUE)


@comment_router.register("pull_request_review_comment", "created")
async def on_review_comment(event: Event, starter: WorkflowStarter) -> Outcome:
    """A command in a pull request's review thread: a follow-up on that pull request."""
    return await _start(event, starter, CommentKind.REVIEW)


def default_router() -> Router:
    router = Router()
    router.add(comment_router)
    return router

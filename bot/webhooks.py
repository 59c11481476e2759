"""Webhook core with no I/O: signature check, event parsing, routing to handlers.

Handlers only decide and then start or signal a workflow through the `WorkflowStarter` they are
given; they never call GitHub or a model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.core.commands import Command, parse_command
from bot.core.targets import CommentKind, RepoRef
from bot.payload_checks import PayloadProblem, check_comment_payload
from bot.workflows.shared import CommandRequest

log = logging.getLogger(__name__)


class WebhookRejected(Exception):
    """A request that is not a webhook we accept; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def verify_signature(secret: bytes, body: bytes, header: str | None) -> None:
    """Check `X-Hub-Signature-256` over the raw body. SHA-1 signatures are never accepted."""
    if not header:
        raise WebhookRejected(401, "missing X-Hub-Signature-256")
    prefix, _, digest = header.partition("=")
    if prefix != "sha256" or not digest:
        raise WebhookRejected(401, "signature must be sha256=<hex>")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        raise WebhookRejected(401, "signature does not match")


@dataclass(frozen=True)
class Event:
    name: str
    delivery_id: str
    payload: dict[str, Any]

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None


def parse_event(name: str | None, delivery_id: str | None, body: bytes) -> Event:
    if not name:
        raise WebhookRejected(400, "missing X-GitHub-Event")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, "body is not JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    return Event(name=name, delivery_id=delivery_id or "", payload=payload)


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]


def ignored(reason: str) -> Outcome:
    return Outcome(200, {"status": "ignored", "reason": reason})


class WorkflowStarter(Protocol):
    async def start_command(self, request: CommandRequest) -> str:
        """Start (or find, for a redelivery) the workflow for this command; return its id."""


Handler = Callable[[Event, WorkflowStarter], Awaitable[Outcome]]


@dataclass
class Router:
    """Maps (event, action) to one handler, like gidgethub's router."""

    _routes: dict[tuple[str, str | None], Handler] = field(default_factory=dict)

    def register(self, event: str, action: str | None = None) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self._routes[(event, action)] = handler
            return handler

        return decorate

    def add(self, other: Router) -> None:
        self._routes.update(other._routes)

    async def dispatch(self, event: Event, starter: WorkflowStarter) -> Outcome:
        if event.name == "ping":
            return Outcome(200, {"status": "pong"})
        handler = self._routes.get((event.name, event.action)) or self._routes.get(
            (event.name, None)
        )
        if handler is None:
            return ignored(f"{event.name}.{event.action or '-'} is not handled")
        return await handler(event, starter)


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
        comment_kind=kind,
        commenter=comment["user"]["login"],
        command=command,
        review_path=comment.get("path") if kind is CommentKind.REVIEW else None,
        review_line=comment.get("line") if kind is CommentKind.REVIEW else None,
        review_diff_hunk=comment.get("diff_hunk") if kind is CommentKind.REVIEW else None,
    )


comment_router = Router()


async def _start(event: Event, starter: WorkflowStarter, kind: CommentKind) -> Outcome:
    request = command_request(event, kind)
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

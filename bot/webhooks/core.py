"""Webhook core with no I/O: signature check, event parsing, routing to handlers.

Handlers (webhooks/commands.py) only decide and then start a workflow through the
`WorkflowStarter` they are given; they never call GitHub or a model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.workflows.shared import CommandRequest


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

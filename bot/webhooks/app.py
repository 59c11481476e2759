"""The starlette app: `POST /webhooks`, `GET /healthz`, `GET /metrics` and a setup page.

The CPU work of a delivery (the signature over up to 25 MB, the JSON, a comment's Markdown)
runs in threads: no payload holds up the event loop that answers every other request."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.render.messages import setup_page
from bot.webhooks.commands import default_router
from bot.webhooks.core import (
    Event,
    Outcome,
    Router,
    WebhookRejected,
    WorkflowStarter,
    parse_event,
    verify_signature,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB; anything larger is not GitHub.


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing (413) as soon as it would exceed `limit`, never buffering more."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise WebhookRejected(413, "payload too large")
        except ValueError as exc:
            raise WebhookRejected(400, "invalid Content-Length") from exc
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, "payload too large")
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookEndpoint:
    def __init__(self, secret: bytes, starter: WorkflowStarter, router: Router) -> None:
        self.secret = secret
        self.starter = starter
        self.router = router
        self.outcomes: Counter[int] = Counter()

    async def handle(self, request: Request) -> Response:
        try:
            outcome = await self._handle(request)
        except WebhookRejected as rejected:
            outcome = Outcome(rejected.status, {"error": rejected.message})
        self.outcomes[outcome.status] += 1
        return JSONResponse(outcome.body, status_code=outcome.status)

    async def _handle(self, request: Request) -> Outcome:
        body = await read_limited_body(request)
        event = await asyncio.to_thread(self._verified_event, request, body)
        return await self.router.dispatch(event, self.starter)

    def _verified_event(self, request: Request, body: bytes) -> Event:
        verify_signature(self.secret, body, request.headers.get("x-hub-signature-256"))
        return parse_event(
            request.headers.get("x-github-event"),
            request.headers.get("x-github-delivery"),
            body,
        )


def create_app(
    webhook_secret: bytes, starter: WorkflowStarter, router: Router | None = None
) -> Starlette:
    endpoint = WebhookEndpoint(webhook_secret, starter, router or default_router())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        lines = [
            "# HELP orchestrate_webhooks_total Webhook deliveries answered, by HTTP status.",
            "# TYPE orchestrate_webhooks_total counter",
        ]
        lines += [
            f'orchestrate_webhooks_total{{status="{status}"}} {count}'
            for status, count in sorted(endpoint.outcomes.items())
        ]
        return PlainTextResponse("\n".join(lines) + "\n")

    async def index(request: Request) -> Response:
        return HTMLResponse(setup_page())

    return Starlette(
        routes=[
            Route("/webhooks", endpoint.handle, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/", index, methods=["GET"]),
        ]
    )

"""Fault injection, request hooks and the request log, as one ASGI middleware in front of every
route.

A fault answers in place of the route (an error status, a rate limit), delays it, or loses its
answer: with `applied` the route's handler runs first (its state changes stay), then the client
gets the fault's status instead, or (`cut`) the connection closes with no answer ("before") or
after the headers and part of the body ("mid").
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .hooks import Hooks, SeenRequest
from .shapes import error
from .state import HubState

CUT_BEFORE = "before"  # the connection closes with no answer at all
CUT_MID = "mid"  # the answer's headers and part of its body arrive, then the connection closes
CUTS = (CUT_BEFORE, CUT_MID)
NO_ANSWER = 0  # the status logged for a request whose connection closed without an answer
Responder = Callable[[], tuple[int, dict[str, str], dict[str, Any]]]
Aborter = Callable[[Scope], Awaitable[None]]


@dataclass
class Fault:
    method: str  # "*" matches every method
    path: re.Pattern[str]
    status: int | None
    delay: float
    times: int  # -1: forever
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    applied: bool = False  # run the route's handler first; only its answer is lost
    cut: str | None = None  # CUT_BEFORE or CUT_MID: close the connection instead of answering
    respond: Responder | None = None  # (status, headers, body) made when the fault answers


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault, spending one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.method not in ("*", method) or not fault.path.search(path):
                    continue
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None


def github_headers() -> list[tuple[bytes, bytes]]:
    reset = str(int(time.time()) + 3600)
    return [
        (b"x-github-request-id", secrets.token_hex(8).upper().encode()),
        (b"x-github-api-version-selected", b"2022-11-28"),
        (b"x-ratelimit-limit", b"5000"),
        (b"x-ratelimit-remaining", b"4999"),
        (b"x-ratelimit-reset", reset.encode()),
        (b"x-ratelimit-used", b"1"),
        (b"x-ratelimit-resource", b"core"),
    ]


async def buffered(receive: Receive) -> Receive:
    """Read the whole request body now; the returned `receive` replays it, then goes on."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


class HubMiddleware:
    """Applies injected faults and hooks, adds GitHub's headers, and logs (method, path, status)."""

    def __init__(
        self,
        app: ASGIApp,
        state: HubState,
        faults: Faults,
        hooks: Hooks | None = None,
        abort: Aborter | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.faults = faults
        self.hooks = hooks or Hooks()
        self.abort = abort

    def _log(self, method: str, path: str, status: int) -> None:
        with self.state.lock:
            self.state.requests.append((method, path, status))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        seen = SeenRequest(method, path, tuple(scope["client"]) if scope.get("client") else None)
        if self.hooks.waiting(method, path, applied=False):
            receive = await buffered(receive)  # the whole request has arrived when hooks run
            self.hooks.fire(seen, applied=False)
        fault = self.faults.take(method, path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.applied:
                await self._serve_then_lose(fault, seen, scope, receive, send)
                return
            if fault.cut is not None:
                # The whole request is read first: closing on unread bytes would reset the
                # connection (a different client error, at random) instead of just closing it.
                await buffered(receive)
                self._log(method, path, NO_ANSWER)
                await self._abort(scope)
                return
            if fault.status is not None or fault.respond is not None:
                await self._send_fault(fault, method, path, send)
                return

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *github_headers()]
                self.hooks.fire(seen, applied=True)
                # Logged before the client can see the response, so tests never race it.
                self._log(method, path, message["status"])
            await send(message)

        await self.app(scope, receive, send_logged)

    async def _serve_then_lose(
        self, fault: Fault, seen: SeenRequest, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The handler runs (the state changes), then its answer never reaches the client."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        applied_status = start["status"] if start else NO_ANSWER
        with self.state.lock:
            self.state.lost_answers.append((seen.method, seen.path, applied_status))
        self.hooks.fire(seen, applied=True)
        if fault.cut == CUT_MID and start is not None:
            body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
            self._log(seen.method, seen.path, applied_status)
            headers = [*start.get("headers", []), *github_headers()]
            await send(
                {"type": "http.response.start", "status": applied_status, "headers": headers}
            )
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            await self._abort(scope)
        elif fault.cut is not None:
            self._log(seen.method, seen.path, NO_ANSWER)
            await self._abort(scope)
        else:
            await self._send_fault(fault, seen.method, seen.path, send)

    async def _abort(self, scope: Scope) -> None:
        if self.abort is None:
            raise RuntimeError("this hub cannot drop connections (no abort given)")
        await self.abort(scope)

    async def _send_fault(self, fault: Fault, method: str, path: str, send: Send) -> None:
        status, extra, body = self._fault_answer(fault)
        payload = json.dumps(body).encode()
        headers = dict(github_headers())
        # The fault's own headers replace GitHub's defaults of the same name (no duplicates).
        headers |= {k.lower().encode(): v.encode() for k, v in extra.items()}
        headers[b"content-type"] = b"application/json; charset=utf-8"
        headers[b"content-length"] = str(len(payload)).encode()
        self._log(method, path, status)
        await send(
            {"type": "http.response.start", "status": status, "headers": list(headers.items())}
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    def _fault_answer(fault: Fault) -> tuple[int, dict[str, str], dict[str, Any]]:
        if fault.respond is not None:
            return fault.respond()
        status = fault.status if fault.status is not None else 502
        body = fault.body or error(status, HTTPStatus(status).phrase)
        return status, fault.headers, body

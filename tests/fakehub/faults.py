"""Fault injection and the request log, as one ASGI middleware in front of every route."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .shapes import error
from .state import HubState


@dataclass
class Fault:
    method: str  # "*" matches every method
    path: re.Pattern[str]
    status: int | None
    delay: float
    times: int  # -1: forever
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


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


class HubMiddleware:
    """Applies injected faults, adds GitHub's headers, and logs (method, path, status)."""

    def __init__(self, app: ASGIApp, state: HubState, faults: Faults) -> None:
        self.app = app
        self.state = state
        self.faults = faults

    def _log(self, method: str, path: str, status: int) -> None:
        with self.state.lock:
            self.state.requests.append((method, path, status))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        fault = self.faults.take(method, path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                await self._send_fault(fault, method, path, send)
                return

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *github_headers()]
                # Logged before the client can see the response, so tests never race it.
                self._log(method, path, message["status"])
            await send(message)

        await self.app(scope, receive, send_logged)

    async def _send_fault(self, fault: Fault, method: str, path: str, send: Send) -> None:
        assert fault.status is not None
        phrase = HTTPStatus(fault.status).phrase
        payload = json.dumps(fault.body or error(fault.status, phrase)).encode()
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
            *github_headers(),
            *((k.lower().encode(), v.encode()) for k, v in fault.headers.items()),
        ]
        self._log(method, path, fault.status)
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

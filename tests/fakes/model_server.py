"""A scripted model server speaking the Anthropic Messages API over HTTP on 127.0.0.1.

The anthropic SDK 2.x sends its requests through httpx2, which respx cannot intercept, so tests
point `AsyncAnthropic(base_url=model.base_url)` at this real server instead. Each request is
classified into a role; each role answers from its own script of turns, in order. Usage numbers
follow the real API's accounting closely enough to test budgets and prompt caching.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import secrets
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class ToolCall:
    name: str
    input: dict[str, Any]


@dataclass
class Turn:
    """One scripted answer: text and/or tool calls, or an error status."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    latency: float | None = None  # seconds before answering; None: the server's default
    error: int | None = None  # answer this HTTP status with Anthropic's error body instead
    output_tokens: int | None = None  # None: estimated from the content
    retry_after: int = 1  # the retry-after header (seconds) of an error 429
    stop_reason: str | None = None  # None: "tool_use" when tool_calls, else "end_turn"
    # Hold the answer until `parties` requests wait at the barrier of this name: proves
    # concurrency without timing (sequential callers would never get past it).
    barrier: str | None = None
    parties: int = 0
    # Hold the answer until the test calls `release_held()` (or the server stops): a model call
    # that is in flight for as long as the test needs, e.g. to cancel a run under it.
    hold: bool = False


Script = Sequence[Turn | Callable[[dict[str, Any]], Turn]]


@dataclass
class RecordedRequest:
    role: str  # "" when the request was rejected before classification
    body: dict[str, Any]
    headers: dict[str, str]  # names lower-cased
    started_at: float  # time.monotonic() on arrival
    ended_at: float  # time.monotonic() when the answer was sent
    status: int
    response: dict[str, Any]


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_ROLE_TAG = re.compile(r"<role>\s*([\w.-]+)\s*</role>")
_ID_ALPHABET = string.ascii_letters + string.digits
_EXHAUSTED = Turn(text="done.")


def classify_request(body: dict[str, Any]) -> str:
    """The role of a request: a forced tool's name, else a <role>NAME</role> tag, else "default"."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        name = choice.get("name")
        if isinstance(name, str):
            return name
    for text in (_text_of(body.get("system")), _first_user_text(body.get("messages"))):
        match = _ROLE_TAG.search(text)
        if match:
            return match.group(1)
    return "default"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _first_user_text(messages: Any) -> str:
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _shape_problem(body: dict[str, Any]) -> str | None:
    """Why the request is not a Messages request, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required and must be a non-empty list"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        return "max_tokens: Field required and must be a non-negative integer"
    if body.get("stream"):
        return "stream: the scripted model server does not stream"
    return None


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def _prompt_items(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    """The prompt in cache order (tools, system, messages): (item, carries cache_control)."""
    items: list[tuple[Any, bool]] = []
    for tool in body.get("tools") or []:
        items.append((tool, isinstance(tool, dict) and "cache_control" in tool))
    system = body.get("system")
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else system or []
    for block in blocks:
        items.append((block, isinstance(block, dict) and "cache_control" in block))
    for message in body["messages"]:
        content = message.get("content") if isinstance(message, dict) else message
        role = message.get("role") if isinstance(message, dict) else None
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for block in blocks:
            items.append(([role, block], isinstance(block, dict) and "cache_control" in block))
    return items


def _account(
    body: dict[str, Any], cached: set[str], min_cacheable_tokens: int
) -> tuple[dict[str, int], list[str]]:
    """Input usage of a request, and the hashes of its cacheable prefixes.

    Each cache_control breakpoint closes a prefix; the longest prefix already cached is read, the
    rest up to the last breakpoint is written, the remainder is plain input (as the real API does).
    """
    hasher = hashlib.sha256(body["model"].encode())  # caches are per model
    chars = 0
    prefixes: list[tuple[int, str]] = []
    for item, breakpoint in _prompt_items(body):
        text = json.dumps(item, sort_keys=True, separators=(",", ":"))
        hasher.update(text.encode() + b"\0")
        chars += len(text)
        if breakpoint and _tokens(chars) >= min_cacheable_tokens:
            prefixes.append((_tokens(chars), hasher.hexdigest()))
    read = max((tokens for tokens, digest in prefixes if digest in cached), default=0)
    written = max((tokens for tokens, _ in prefixes), default=0)
    usage = {
        "input_tokens": _tokens(chars) - written,
        "cache_creation_input_tokens": written - read,
        "cache_read_input_tokens": read,
    }
    return usage, [digest for _, digest in prefixes]


def _new_id(prefix: str) -> str:
    return prefix + "01" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": _new_id("req_"),
    }


def _message(model: str, turn: Turn, usage: dict[str, int], *, warming: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for call in turn.tool_calls:
        content.append(
            {"type": "tool_use", "id": _new_id("toolu_"), "name": call.name, "input": call.input}
        )
    stop_reason = turn.stop_reason or ("tool_use" if turn.tool_calls else "end_turn")
    output_tokens = turn.output_tokens
    if output_tokens is None:
        output_tokens = max(1, _tokens(len(json.dumps(content))))
    if warming:
        stop_reason, output_tokens = "max_tokens", 0
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage["input_tokens"],
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
            "cache_read_input_tokens": usage["cache_read_input_tokens"],
        },
    }


class ScriptedModel:
    """A Messages API server on 127.0.0.1 answering each role from its script, in order."""

    def __init__(
        self,
        scripts: Mapping[str, Script] | None = None,
        *,
        default_latency: float = 0.0,
        classify: Callable[[dict[str, Any]], str] = classify_request,
        api_key: str = "test-key",
        min_cacheable_tokens: int = 0,  # the real API silently skips shorter prefixes
    ) -> None:
        self._queues: dict[str, deque[Turn | Callable[[dict[str, Any]], Turn]]] = {}
        self._default_latency = default_latency
        self._classify = classify
        self._api_key = api_key
        self._min_cacheable_tokens = min_cacheable_tokens
        self._lock = threading.Lock()  # the server thread and the test thread share the state
        self._records: list[tuple[int, RecordedRequest]] = []
        self._arrivals = 0
        self._cached: set[str] = set()
        self._barriers: dict[str, asyncio.Barrier] = {}
        self._released = threading.Event()
        self.held = 0  # requests currently held
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        for role, script in (scripts or {}).items():
            self.add_script(role, script)
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    # -- the test's side ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("ScriptedModel is not started")
        return self._base_url

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every answered request, in order of arrival."""
        with self._lock:
            return [record for _, record in sorted(self._records, key=lambda pair: pair[0])]

    def add_script(self, role: str, script: Script) -> None:
        with self._lock:
            self._queues.setdefault(role, deque()).extend(script)

    def requests_for(self, role: str) -> list[RecordedRequest]:
        return [record for record in self.requests if record.role == role]

    def remaining(self, role: str) -> int:
        with self._lock:
            return len(self._queues.get(role, ()))

    def start(self) -> ScriptedModel:
        if self._thread is not None:
            raise RuntimeError("ScriptedModel is already started")
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (no 40 ms Nagle stalls).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))  # a free port chosen by the kernel: no race with others
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="scripted-model", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the scripted model server did not start")
            time.sleep(0.005)
        self._base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    def release_held(self) -> None:
        """Let every held request (Turn.hold) answer."""
        self._released.set()

    def stop(self) -> None:
        self.release_held()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._base_url = None

    def __enter__(self) -> ScriptedModel:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the server's side -------------------------------------------------------------------

    async def _messages(self, request: Request) -> JSONResponse:
        started = time.monotonic()
        with self._lock:
            self._arrivals += 1
            seq = self._arrivals
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        role = ""

        def answer(status: int, payload: dict[str, Any], **extra: str) -> JSONResponse:
            record = RecordedRequest(
                role, body, headers, started, time.monotonic(), status, payload
            )
            with self._lock:
                self._records.append((seq, record))
            return JSONResponse(payload, status, headers={"request-id": _new_id("req_"), **extra})

        problem = _shape_problem(body)
        try:
            role = self._classify(body) if problem is None else ""
            if not self._authorized(headers):
                return answer(401, _error_body(401, "invalid x-api-key"))
            if problem is not None:
                return answer(400, _error_body(400, problem))
            with self._lock:
                usage, prefixes = _account(body, self._cached, self._min_cacheable_tokens)
            warming = body["max_tokens"] == 0  # warms the cache; consumes no turn
            turn = Turn(latency=self._default_latency) if warming else self._next_turn(role, body)
        except Exception as exc:  # a failing script callable must reach the test as a message
            return answer(500, _error_body(500, f"scripted model server: {exc!r}"))
        latency = self._default_latency if turn.latency is None else turn.latency
        await asyncio.sleep(latency)  # never block the loop: concurrent requests overlap
        if turn.hold:
            with self._lock:
                self.held += 1
            while not self._released.is_set():  # noqa: ASYNC110 - set from the test thread
                await asyncio.sleep(0.02)
            with self._lock:
                self.held -= 1
        if turn.barrier is not None:
            barrier = self._barriers.setdefault(turn.barrier, asyncio.Barrier(turn.parties))
            await barrier.wait()
        if turn.error is not None:
            extra = {"retry-after": str(turn.retry_after)} if turn.error == 429 else {}
            return answer(turn.error, _error_body(turn.error, "scripted error"), **extra)
        with self._lock:  # the response starts now: later requests may read this cache entry
            self._cached.update(prefixes)
        return answer(200, _message(body["model"], turn, usage, warming=warming))

    def _authorized(self, headers: dict[str, str]) -> bool:
        # anthropic 2.x sends the API key as "Authorization: Bearer <key>"; the API takes both.
        return headers.get("x-api-key") == self._api_key or (
            headers.get("authorization") == f"Bearer {self._api_key}"
        )

    def _next_turn(self, role: str, body: dict[str, Any]) -> Turn:
        with self._lock:
            queue = self._queues.get(role)
            step = queue.popleft() if queue else _EXHAUSTED
        return step if isinstance(step, Turn) else step(body)

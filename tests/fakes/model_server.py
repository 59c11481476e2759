"""A scripted model server speaking the Anthropic Messages API over HTTP on 127.0.0.1.

The anthropic SDK 2.x sends its requests through httpx2, which respx cannot intercept, so tests
point `AsyncAnthropic(base_url=model.base_url)` at this real server instead. Each request is
classified into a role; each role answers from its own script of turns, in order. Usage numbers
follow the real API's accounting closely enough to test budgets and prompt caching.
"""

from __future__ import annotations

import asyncio
import json
import socket
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
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.messages_api import (
    account_usage,
    classify_request,
    error_body,
    estimate_tokens,
    new_id,
    shape_problem,
)
from tests.fakes.model_faults import (
    DROP_BEFORE,
    DROPS,
    ClosedResponse,
    ModelArrival,
    PartialResponse,
    ServedUsage,
)
from tests.support.connection import abort_connection


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
    # The retry-after header (seconds) of an error turn (429, 529, ...); None: 1 on a 429,
    # no header on other statuses.
    retry_after: float | None = None
    # A transport fault of a real answer: "before" closes the connection with no answer, "mid"
    # after the headers and half the body (the usage counts as served but not delivered).
    drop: str | None = None
    # Seconds the answer stops after its headers and half its body: a client whose read timeout
    # is shorter gives up mid-response.
    stall: float = 0.0
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
    delivered: bool = True  # False: the connection closed (or the client left) mid-answer


_EXHAUSTED = Turn(text="done.")


def _retry_after_header(turn: Turn) -> dict[str, str]:
    if turn.retry_after is None:
        return {"retry-after": "1"} if turn.error == 429 else {}
    seconds = turn.retry_after
    return {"retry-after": str(int(seconds)) if seconds == int(seconds) else str(seconds)}


def _message(model: str, turn: Turn, usage: dict[str, int], *, warming: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for call in turn.tool_calls:
        content.append(
            {"type": "tool_use", "id": new_id("toolu_"), "name": call.name, "input": call.input}
        )
    stop_reason = turn.stop_reason or ("tool_use" if turn.tool_calls else "end_turn")
    output_tokens = turn.output_tokens
    if output_tokens is None:
        output_tokens = max(1, estimate_tokens(len(json.dumps(content))))
    if warming:
        stop_reason, output_tokens = "max_tokens", 0
    return {
        "id": new_id("msg_"),
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
        self._turns_by_role: dict[str, int] = {}
        self._hooks: list[tuple[str, int, Callable[[ModelArrival], None]]] = []
        self.hook_errors: list[BaseException] = []  # raised by on_request callbacks
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

    def on_request(
        self, role: str, callback: Callable[[ModelArrival], None], *, nth: int = 1
    ) -> None:
        """Call `callback` (on the server's thread) when the `nth` request of `role` since the
        server started arrives, before it is answered: the moment to SIGKILL its sender with the
        call in flight. Cache-warming requests (max_tokens=0) take no turn and do not count."""
        with self._lock:
            self._hooks.append((role, nth, callback))

    def served_usage(self, role: str | None = None, *, delivered: bool = True) -> ServedUsage:
        """The usage of every 200 answer (of `role`, or all) the server sent: with `delivered`
        only those that reached the client whole, else only those cut or abandoned mid-answer."""
        total = ServedUsage()
        for record in self.requests:
            chosen = record.status == 200 and role in (None, record.role)
            if chosen and record.delivered == delivered:
                total = total.plus(record.response["usage"])
        return total

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

    async def _messages(self, request: Request) -> Response:
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

        def record(status: int, payload: dict[str, Any]) -> RecordedRequest:
            made = RecordedRequest(role, body, headers, started, time.monotonic(), status, payload)
            with self._lock:
                self._records.append((seq, made))
            return made

        def answer(status: int, payload: dict[str, Any], **extra: str) -> JSONResponse:
            record(status, payload)
            return JSONResponse(payload, status, headers={"request-id": new_id("req_"), **extra})

        problem = shape_problem(body)
        try:
            role = self._classify(body) if problem is None else ""
            if not self._authorized(headers):
                return answer(401, error_body(401, "invalid x-api-key"))
            if problem is not None:
                return answer(400, error_body(400, problem))
            with self._lock:
                usage, prefixes = account_usage(body, self._cached, self._min_cacheable_tokens)
            warming = body["max_tokens"] == 0  # warms the cache; consumes no turn
            if not warming:
                self._arrived(role, request.scope.get("client"))
            turn = Turn(latency=self._default_latency) if warming else self._next_turn(role, body)
        except Exception as exc:  # a failing script callable must reach the test as a message
            return answer(500, error_body(500, f"scripted model server: {exc!r}"))
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
            extra = _retry_after_header(turn)
            return answer(turn.error, error_body(turn.error, "scripted error"), **extra)
        with self._lock:  # the response starts now: later requests may read this cache entry
            self._cached.update(prefixes)
        message = _message(body["model"], turn, usage, warming=warming)
        if turn.drop is None and not turn.stall:
            return answer(200, message)
        return self._faulty_answer(turn, record(200, message), request.scope.get("client"))

    def _faulty_answer(self, turn: Turn, record: RecordedRequest, client: Any) -> Response:
        """An answer that never arrives whole: closed before or mid-body, or stalled mid-body."""
        if turn.drop is not None and turn.drop not in DROPS:
            raise ValueError(f"Turn.drop must be one of {DROPS}, not {turn.drop!r}")
        record.delivered = False

        async def abort() -> None:
            await abort_connection(self._server, client)

        if turn.drop == DROP_BEFORE:
            return ClosedResponse(abort)

        def finished(delivered: bool) -> None:
            record.delivered = delivered

        return PartialResponse(
            record.response, 200, {"request-id": new_id("req_")},
            abort=abort if turn.drop is not None else None, stall=turn.stall,
            finished=finished, alive=lambda: self._connected(client),
        )  # fmt: skip

    def _connected(self, client: Any) -> bool:
        server = self._server
        if server is None or client is None:
            return False
        return any(
            getattr(p, "client", None) == tuple(client) for p in server.server_state.connections
        )

    def _arrived(self, role: str, client: Any) -> None:
        """Count a turn-taking request of `role` and run the hooks waiting for it."""
        with self._lock:
            nth = self._turns_by_role[role] = self._turns_by_role.get(role, 0) + 1
            due = [hook for hook in self._hooks if hook[:2] == (role, nth)]
            for hook in due:
                self._hooks.remove(hook)
        arrival = ModelArrival(role, nth, tuple(client) if client else None)
        for _, _, callback in due:
            try:
                callback(arrival)
            except Exception as exc:  # the test reads them; the request goes on
                with self._lock:
                    self.hook_errors.append(exc)

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

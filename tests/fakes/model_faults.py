"""The scripted model server's transport faults and accounting: answers cut or stalled mid-body,
connections closed with no answer, request hooks, and the usage the server served per role."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

DROP_BEFORE = "before"  # the connection closes with no answer at all
DROP_MID = "mid"  # the headers and half the body arrive, then the connection closes
DROPS = (DROP_BEFORE, DROP_MID)
Abort = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ModelArrival:
    role: str
    nth: int  # 1 for the role's first request since the server started
    client: tuple[str, int] | None  # the caller's address: its port tells which process sent it


@dataclass(frozen=True)
class ServedUsage:
    """Token usage summed over answers, named as the Messages API names it."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    def plus(self, usage: dict[str, Any]) -> ServedUsage:
        return ServedUsage(
            requests=self.requests + 1,
            input_tokens=self.input_tokens + int(usage.get("input_tokens") or 0),
            output_tokens=self.output_tokens + int(usage.get("output_tokens") or 0),
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + int(usage.get("cache_creation_input_tokens") or 0),
            cache_read_input_tokens=self.cache_read_input_tokens
            + int(usage.get("cache_read_input_tokens") or 0),
        )


class ClosedResponse(Response):
    """No answer: the connection closes before a byte of it is sent."""

    def __init__(self, abort: Abort) -> None:
        super().__init__(status_code=200)
        self._abort = abort

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._abort()


class PartialResponse(JSONResponse):
    """A real answer whose body stops halfway: then the connection closes (`abort`), or the
    rest follows after `stall` seconds. `finished` runs with whether the last byte was sent
    on a live connection."""

    def __init__(
        self,
        content: Any,
        status_code: int,
        headers: dict[str, str],
        *,
        abort: Abort | None,
        stall: float,
        finished: Callable[[bool], None],
        alive: Callable[[], bool],
    ) -> None:
        super().__init__(content, status_code, headers=headers)
        self._abort, self._stall, self._finished, self._alive = abort, stall, finished, alive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        half = len(self.body) // 2
        await send({"type": "http.response.body", "body": self.body[:half], "more_body": True})
        if self._abort is not None:
            await self._abort()
            self._finished(False)
            return
        await asyncio.sleep(self._stall)
        delivered = self._alive()
        await send({"type": "http.response.body", "body": self.body[half:], "more_body": False})
        self._finished(delivered)

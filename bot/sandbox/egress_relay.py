"""Moving bytes for the egress proxy: connecting to checked addresses and relaying a client's
connection to its upstream both ways, with an idle timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from bot.core.egress_policy import IPAddress

__all__ = ["Stream", "open_first", "relay"]

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_CHUNK = 65536


async def open_first(addresses: Sequence[IPAddress], port: int) -> Stream:
    """A connection to the first address that answers (each one already checked: no name is
    resolved here, so nothing can answer differently than the check saw)."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return await asyncio.open_connection(str(address), port)
        except OSError as exc:
            error = exc
    raise error


async def relay(
    client: Stream, upstream: Stream, idle_timeout_s: float, count: Callable[[bool, int], None]
) -> None:
    """Copy both ways until the upstream closes or nothing moves either way for
    `idle_timeout_s`. A client's EOF is passed on (half-close) and the answer still flows
    back. `count(upward, size)` is told about every chunk."""
    last = [time.monotonic()]
    up = asyncio.create_task(_copy(client[0], upstream[1], idle_timeout_s, last, count, True))
    down = asyncio.create_task(_copy(upstream[0], client[1], idle_timeout_s, last, count, False))
    try:
        await down
    finally:
        up.cancel()
        await asyncio.gather(up, return_exceptions=True)


async def _copy(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    idle: float,
    last: list[float],
    count: Callable[[bool, int], None],
    upward: bool,
) -> None:
    while True:
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
            # arrives as the read completes, and the relay would then never end.
            async with asyncio.timeout(idle):
                chunk = await source.read(_CHUNK)
        except TimeoutError:
            if time.monotonic() - last[0] >= idle:
                return
            continue
        except OSError:
            return
        if not chunk:
            if upward and sink.can_write_eof():
                with contextlib.suppress(OSError):
                    sink.write_eof()
            return
        last[0] = time.monotonic()
        count(upward, len(chunk))
        sink.write(chunk)
        try:
            await sink.drain()
        except OSError:
            return

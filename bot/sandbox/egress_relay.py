"""Moving bytes for the egress proxy: resolving names, connecting to checked addresses, and
relaying a client's connection to its upstream both ways with an idle timeout, telling how the
upstream's side ended (bot/sandbox/egress_faults.py counts a reset as the upstream's fault).
An allowed destination that cannot be reached is `Unreachable`: a fault, not a refusal."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from enum import StrEnum

from bot.core.egress_policy import EgressRefused, IPAddress

__all__ = ["Ended", "Stream", "Unreachable", "open_first", "relay", "system_resolver"]

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_CHUNK = 65536


class Unreachable(EgressRefused):
    """An allowed destination that could not be reached: `fault` names how (for the count)."""

    def __init__(self, message: str, status: int, fault: str) -> None:
        super().__init__(message, status)
        self.fault = fault


class Ended(StrEnum):
    """How one direction of a relay ended."""

    EOF = "eof"  # its source closed
    RESET = "reset"  # reading its source failed (a reset, a broken connection)
    IDLE = "idle"  # nothing moved either way for the idle timeout
    SINK_GONE = "sink gone"  # writing to its sink failed (the other side went away)


async def system_resolver(host: str, port: int) -> Sequence[IPAddress]:
    """The host's own resolver (getaddrinfo), TCP addresses only, in its order."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        message = f"cannot resolve {host}: {exc.strerror}"
        if exc.errno == socket.EAI_AGAIN:  # the resolver's failure for now, not the name's
            raise Unreachable(message, 502, "name lookup failed for now") from None
        raise EgressRefused(message, 502) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


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
    client: Stream, upstream: Stream, idle_timeout_s: float, count: Callable[[bool, bytes], None]
) -> Ended:
    """Copy both ways until the upstream closes or nothing moves either way for
    `idle_timeout_s`; how the upstream-to-client direction ended. A client's EOF is passed on
    (half-close) and the answer still flows back. `count(upward, chunk)` sees every chunk."""
    last = [time.monotonic()]
    up = asyncio.create_task(_copy(client[0], upstream[1], idle_timeout_s, last, count, True))
    down = asyncio.create_task(_copy(upstream[0], client[1], idle_timeout_s, last, count, False))
    try:
        return await down
    finally:
        up.cancel()
        await asyncio.gather(up, return_exceptions=True)


async def _copy(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    idle: float,
    last: list[float],
    count: Callable[[bool, bytes], None],
    upward: bool,
) -> Ended:
    while True:
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
            # arrives as the read completes, and the relay would then never end.
            async with asyncio.timeout(idle):
                chunk = await source.read(_CHUNK)
        except TimeoutError:
            if time.monotonic() - last[0] >= idle:
                return Ended.IDLE
            continue
        except OSError:
            return Ended.RESET
        if not chunk:
            if upward and sink.can_write_eof():
                with contextlib.suppress(OSError):
                    sink.write_eof()
            return Ended.EOF
        last[0] = time.monotonic()
        count(upward, chunk)
        sink.write(chunk)
        try:
            await sink.drain()
        except OSError:
            return Ended.SINK_GONE

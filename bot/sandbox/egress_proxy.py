"""The egress proxy for setup commands: HTTP CONNECT and plain-HTTP forwarding on a UNIX socket,
only to allow-listed destinations (the rules are in bot/core/egress_policy.py).

The worker runs one proxy per setup; its socket file is bound read-only into the setup sandbox
(whose network namespace has nothing but its own loopback) and reached through
bot/sandbox/egress_bridge.py. What it accepts:

- `CONNECT host:port HTTP/1.1`: the tunnel carries whatever the client sends (TLS to a registry)
  to that host and port only;
- `GET http://host[:port]/path HTTP/1.1` (any method, absolute-form): forwarded in origin-form
  with `Host` rewritten from the URI and `Connection: close`; proxy headers are dropped.

The decision is made on the CONNECT target or the absolute URI's authority alone; a `Host`
header never influences where a connection goes. Names are resolved here, on the host, every
resolved address is checked, and the connection goes to a checked address (no second lookup
for a rebinding answer to slip into). Anything else gets an HTTP error whose body says why:
403 for a destination that is not allowed (naming the host and `network.allow`), 400 for a
malformed request, 431 for a header block over `max_header_bytes`, 408 when it does not arrive
within `header_timeout_s`, 503 past `max_connections` concurrent connections, 502/504 when the
upstream cannot be reached. Tunnels close after `idle_timeout_s` without a byte either way.

Every decision is recorded (`records`, at most `max_records`; `summary()` groups them) so the
setup output can list what was reached and what was refused (pip does not print a plain-HTTP
index's 403 without -vv: the summary is how a user learns which host to allow). What went
wrong upstream at allowed destinations is counted apart (`upstream_faults()`,
bot/sandbox/egress_faults.py): a setup that failed meanwhile is tried again.

Stdlib asyncio rather than proxy.py (PyPI `proxy.py`): that one runs its own acceptor
processes/threads and selector loop instead of joining the worker's event loop, resolves names
itself unless a plugin overrides it per request (and its connection pool bypasses that hook),
and carries TLS interception, a dashboard and plugins this wall does not want.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.egress_policy import (
    EgressPolicy,
    EgressRefused,
    IPAddress,
    Target,
    parse_target,
    printable,
)
from bot.core.egress_request import ProxyRequest, parse_request_head
from bot.sandbox.egress_faults import FaultCounts, ResponseWatch
from bot.sandbox.egress_relay import Unreachable, open_first, relay, system_resolver

__all__ = ["EgressProxy", "EgressRecord", "ProxyLimits", "Resolver", "system_resolver"]

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

_CHUNK = 65536
_LINGER_S = 1.0
_LINGER_BYTES = 1 << 20
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class ProxyLimits:
    max_connections: int = 64
    max_header_bytes: int = 16384
    header_timeout_s: float = 15.0
    connect_timeout_s: float = 15.0  # resolving and connecting together
    idle_timeout_s: float = 120.0
    max_records: int = 2000


@dataclass
class EgressRecord:
    """One decision: `host` is canonical when the target parsed, else a printable excerpt."""

    host: str
    port: int
    allowed: bool
    reason: str = ""
    bytes_sent: int = 0  # client to upstream
    bytes_received: int = 0  # upstream to client
    unreachable: bool = False  # allowed, but the connection could not be opened

    def count(self, upward: bool, chunk: bytes) -> None:
        if upward:
            self.bytes_sent += len(chunk)
        else:
            self.bytes_received += len(chunk)


class EgressProxy:
    """`async with EgressProxy(policy).serving(path):` listens on the UNIX socket `path`."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        limits: ProxyLimits | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.policy = policy
        self.limits = limits or ProxyLimits()
        self.records: list[EgressRecord] = []
        self.records_dropped = 0
        self.faults = FaultCounts()
        self._resolve = resolver or system_resolver
        self._active = 0
        self._server: asyncio.AbstractServer | None = None
        self._path: Path | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, path: Path) -> None:
        self._server = await asyncio.start_unix_server(
            self._accept, path=str(path), limit=self.limits.max_header_bytes
        )
        self._path = path
        os.chmod(path, 0o600)  # the sandbox connects as the worker's own uid

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()

    @contextlib.asynccontextmanager
    async def serving(self, path: Path) -> AsyncIterator[EgressProxy]:
        await self.start(path)
        try:
            yield self
        finally:
            await self.close()

    def summary(self) -> list[str]:
        """One line per destination: `reached pypi.org:443 (3 connections, 1200 bytes)`,
        `unreachable pypi.org:443 (1 connection): <reason>` (allowed) or
        `refused evil.example:443 (1 connection): <reason>`, in that order."""
        groups: dict[tuple[int, str, int], list[EgressRecord]] = {}
        for record in self.records:
            rank = 0 if record.allowed else 1 if record.unreachable else 2
            groups.setdefault((rank, record.host, record.port), []).append(record)
        lines = []
        for (rank, host, port), records in sorted(groups.items()):
            count = f"{len(records)} connection{'s' if len(records) != 1 else ''}"
            if rank:
                word = "unreachable" if rank == 1 else "refused"
                lines.append(f"{word} {host}:{port} ({count}): {records[-1].reason}")
            else:
                moved = sum(r.bytes_sent + r.bytes_received for r in records)
                lines.append(f"reached {host}:{port} ({count}, {moved} bytes)")
        if self.records_dropped:
            lines.append(f"... and {self.records_dropped} more connections not recorded")
        return lines

    def upstream_faults(self) -> list[str]:
        """What failed upstream at allowed hosts: `pypi.org:443: connection reset (3 times)`."""
        return self.faults.lines()

    def _record(self, record: EgressRecord) -> EgressRecord:
        if len(self.records) < self.limits.max_records:
            self.records.append(record)
        else:
            self.records_dropped += 1
        return record

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if self._active >= self.limits.max_connections:
                await _answer(writer, 503, "too many concurrent connections through the proxy")
                await _discard_rest(reader)
                return
            self._active += 1
            try:
                await self._serve(reader, writer)
            finally:
                self._active -= 1
        except asyncio.CancelledError:
            pass  # close() ends handlers; nobody awaits this task but asyncio's own callback
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read_request(reader)
        except EgressRefused as exc:
            await _answer(writer, exc.status, str(exc))
            await _discard_rest(reader)
            return
        if request is None:
            return  # closed before sending a request
        record = self._record(EgressRecord(printable(request.target, 80), 0, False))
        try:
            target = parse_target(request.target, connect=request.method == "CONNECT")
            record.host, record.port = target.host, target.port
            upstream_r, upstream_w = await self._connect(target)
        except EgressRefused as exc:
            record.reason = str(exc)
            if isinstance(exc, Unreachable):
                record.unreachable = True
                self.faults.add(f"{record.host}:{record.port}", exc.fault)
            await _answer(writer, exc.status, str(exc))
            await _discard_rest(reader)
            return
        record.allowed = True
        watch = ResponseWatch(
            plain=request.method != "CONNECT", expects_body=request.method != "HEAD"
        )

        def count(upward: bool, chunk: bytes) -> None:
            record.count(upward, chunk)
            watch.saw(upward, chunk)

        try:
            if request.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                upstream_w.write(request.forwarded_head(target))
            client, upstream = (reader, writer), (upstream_r, upstream_w)
            ended = await relay(client, upstream, self.limits.idle_timeout_s, count)
            self.faults.add(f"{target.host}:{target.port}", watch.fault(ended))
        finally:
            upstream_w.close()
            with contextlib.suppress(OSError):
                await upstream_w.wait_closed()

    async def _read_request(self, reader: asyncio.StreamReader) -> ProxyRequest | None:
        try:
            async with asyncio.timeout(self.limits.header_timeout_s):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise EgressRefused("the request ended inside its header block", 400) from None
            return None
        except asyncio.LimitOverrunError:
            limit = self.limits.max_header_bytes
            raise EgressRefused(f"request header block is over {limit} bytes", 431) from None
        except TimeoutError:
            raise EgressRefused("the request headers did not arrive in time", 408) from None
        return parse_request_head(head)

    async def _connect(self, target: Target) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        rule = self.policy.rule_for(target)
        try:
            async with asyncio.timeout(self.limits.connect_timeout_s):
                if target.ip is not None:
                    found: Sequence[IPAddress] = [target.ip]
                else:
                    found = await self._resolve(target.host, target.port)
                addresses = self.policy.check_addresses(target, rule, found)
                return await open_first(addresses, target.port)
        except TimeoutError:
            message = f"{target.authority()} did not answer in time"
            raise Unreachable(message, 504, "could not connect in time") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            message = f"cannot reach {target.authority()}: {reason}"
            raise Unreachable(message, 502, f"could not connect ({reason})") from None


async def _answer(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    """Send an error answer, then close gracefully: closing with unread request bytes in the
    socket would reset the connection and the client could lose the answer."""
    body = f"orchestrate egress proxy: {message}\n".encode("ascii", "replace")
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        writer.write(head.encode("ascii") + body)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def _discard_rest(reader: asyncio.StreamReader) -> None:
    """Read what the client still sends (bounded in bytes and time) before closing."""
    left = _LINGER_BYTES
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(_LINGER_S):
            while left > 0 and (chunk := await reader.read(min(left, _CHUNK))):
                left -= len(chunk)

"""The egress proxy's count of upstream faults, against real loopback servers that fail in
each way: what it counts (5xx and 429 answers, resets, closes before or inside an answer,
connections that cannot be opened), and what it does not (a 404, a refused host, a tunnel
closed normally)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core.egress_policy import EgressPolicy
from bot.sandbox.egress_proxy import EgressProxy
from tests.support.loopback import echo_server, exchange, short_socket_dir


@pytest.fixture
def sock() -> Iterator[Path]:
    with short_socket_dir() as directory:
        yield directory / "egress.sock"


@contextlib.asynccontextmanager
async def failing_server(answer: bytes, *, reset: bool = False) -> AsyncIterator[int]:
    """Reads one request's head (or the first bytes of a tunnel), writes `answer`, then closes
    (with a reset when `reset`); yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await reader.read(65536)
            writer.write(answer)
            await writer.drain()
        if reset:
            raw = writer.get_extra_info("socket")
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _get(port: int) -> bytes:
    return f"GET http://127.0.0.1:{port}/simple/pytest/ HTTP/1.1\r\n\r\n".encode()


@pytest.mark.parametrize(
    ("answer", "reset", "fault"),
    [
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", False, "answered 503"),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n\r\noops\n", False, "answered 500"),
        (b"HTTP/1.1 429 Too Many\r\nRetry-After: 1\r\n\r\n", False, "answered 429"),
        (b"", False, "closed the connection without answering"),
        (b"", True, "connection reset"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
            False,
            "closed the connection inside an answer",
        ),
    ],
)
async def test_a_failing_answer_is_counted_per_destination(
    sock: Path, answer: bytes, reset: bool, fault: str
) -> None:
    """Each failing plain-HTTP answer is one fault of its kind at its destination, twice
    counted twice; the connection is still recorded as reached."""
    async with failing_server(answer, reset=reset) as port:
        proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{port}"]))
        async with proxy.serving(sock):
            for _ in range(2):
                await exchange(sock, _get(port))
    assert proxy.upstream_faults() == [f"127.0.0.1:{port}: {fault} (2 times)"]
    assert proxy.summary()[0].startswith(f"reached 127.0.0.1:{port} (2 connections, ")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n",
        b"HTTP/1.1 200 OK\r\n\r\nno length, ends at close\n",
    ],
)
async def test_a_complete_answer_is_no_fault(sock: Path, answer: bytes) -> None:
    """A 404 (the package is missing: the repository's problem) or a whole 200 is no fault."""
    async with failing_server(answer) as port:
        proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{port}"]))
        async with proxy.serving(sock):
            await exchange(sock, _get(port))
    assert proxy.upstream_faults() == []


async def test_a_tunnel_reset_is_counted_and_a_normal_close_is_not(sock: Path) -> None:
    """Inside a CONNECT tunnel only the connection is seen: a reset after the client spoke
    is a fault; an echo server's ordinary close is not."""
    async with failing_server(b"", reset=True) as port, echo_server() as echo:
        proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{port}", f"127.0.0.1:{echo.port}"]))
        async with proxy.serving(sock):
            await exchange(sock, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\nclient hello".encode())
            connect = f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\n\r\n".encode()
            reader, writer = await asyncio.open_unix_connection(str(sock))
            writer.write(connect + b"ping")
            await reader.readuntil(b"ping")
            writer.close()
            await asyncio.sleep(0.1)
    assert proxy.upstream_faults() == [f"127.0.0.1:{port}: connection reset (once)"]


async def test_an_allowed_host_that_cannot_be_reached_is_a_fault_not_a_refusal(
    sock: Path,
) -> None:
    """Nothing listens on an allowed port: a fault ("could not connect"), summarised as
    unreachable (not refused: allowing it would change nothing); a host not allowed is a
    refusal and no fault."""
    async with echo_server() as gone:
        port = gone.port
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{port}"]))
    async with proxy.serving(sock):
        await exchange(sock, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
        await exchange(sock, b"CONNECT denied.example:443 HTTP/1.1\r\n\r\n")
    reason = f"Connect call failed ('127.0.0.1', {port})"
    assert proxy.upstream_faults() == [f"127.0.0.1:{port}: could not connect ({reason}) (once)"]
    assert proxy.summary() == [
        f"unreachable 127.0.0.1:{port} (1 connection): cannot reach 127.0.0.1:{port}: {reason}",
        "refused denied.example:443 (1 connection): " + proxy.records[1].reason,
    ]

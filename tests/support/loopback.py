"""Small asyncio servers on 127.0.0.1 for egress tests: a TCP echo and an HTTP server that
answers with what it received, both counting their connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoopbackServer:
    port: int = 0
    connections: int = 0
    requests: list[dict[str, object]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[LoopbackServer]:
    """Echoes every byte back until the client closes."""
    state = LoopbackServer()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async with _serving(handle, state):
        yield state


@contextlib.asynccontextmanager
async def http_server(body: bytes = b"hello from the host\n") -> AsyncIterator[LoopbackServer]:
    """Answers one request per connection with 200, `body` and an `X-Seen` header holding
    the request line and headers it got (JSON); each request is also kept in `requests`."""
    state = LoopbackServer()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        line, *header_lines = head[:-4].split("\r\n")
        seen: dict[str, object] = {
            "line": line,
            "headers": [h.split(":", 1)[0].lower() for h in header_lines],
        }
        seen["host"] = [
            h.split(":", 1)[1].strip() for h in header_lines if h.lower().startswith("host:")
        ]
        state.requests.append(seen)
        answer = (
            f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
            f"X-Seen: {json.dumps(seen)}\r\n\r\n"
        )
        writer.write(answer.encode() + body)
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    async with _serving(handle, state):
        yield state


@contextlib.asynccontextmanager
async def _serving(handler, state: LoopbackServer) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def short_socket_dir() -> Iterator[Path]:
    """A fresh directory with a short path: a UNIX socket path must fit in 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="eg", dir="/tmp") as name:
        yield Path(name)


async def exchange(socket_path: Path, data: bytes, *, read_timeout: float = 10.0) -> bytes:
    """Send `data` to the UNIX socket and read everything until the other side closes."""
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), read_timeout)
    finally:
        writer.close()

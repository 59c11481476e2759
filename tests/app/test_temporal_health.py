"""wait_until_serving against real dev servers, a closed port and listeners that are not
Temporal: it returns once the frontend serves, and otherwise fails in time with a clear error."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bot.app.devserver import DevServer, free_port
from bot.app.temporal_health import wait_until_serving
from bot.errors import ConfigError

SLACK_S = 1.5  # scheduling on a loaded two-core machine


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def test_healthy_server_returns_fast(temporal_env: WorkflowEnvironment) -> None:
    """A serving dev server: a working client comes back at once."""
    started = time.monotonic()
    client = await wait_until_serving(address_of(temporal_env), "default", 10)
    assert time.monotonic() - started < 2
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    assert described.namespace_info.name == "default"


async def test_waits_through_a_server_still_starting(tmp_path: Path) -> None:
    """Called as the dev server is spawned (no port yet, so a plain connect fails), it waits
    until the frontend serves and returns a client that runs calls."""
    server = DevServer(tmp_path / "temporal.sqlite")
    starting = asyncio.create_task(server.start())
    try:
        with pytest.raises(RuntimeError, match="Failed client connect"):
            await Client.connect(server.address)  # what the TCP-only wait raced against
        client = await wait_until_serving(server.address, "default", 30)
        health = await client.service_client.check_health()
        assert health is True
        await starting
    finally:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await server.stop()


async def test_nothing_listening_fails_in_time_naming_the_address() -> None:
    """A closed port: ConfigError within the timeout, naming the address and the refusal."""
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ConfigError) as raised:
        await wait_until_serving(address, "default", 1.0)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.0 + SLACK_S
    message = str(raised.value)
    assert message.startswith(
        f"Temporal at {address} (namespace 'default') is not serving after 1s:"
    )
    assert "Connection refused" in message


@contextlib.asynccontextmanager
async def silent_listener() -> AsyncIterator[str]:
    """A port whose connections the kernel accepts and nobody ever answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def http1_listener() -> AsyncIterator[str]:
    """A port that answers every connection like a plain HTTP/1.1 web server."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("listener", "symptom"),
    [(silent_listener, "no answer within"), (http1_listener, "`get_system_info` call error")],
)
async def test_listener_that_is_not_temporal_fails_in_time(
    listener: type[contextlib.AbstractAsyncContextManager[str]], symptom: str
) -> None:
    """An open port that is not Temporal (silent, or HTTP/1): ConfigError within the timeout,
    naming the address and what went wrong."""
    async with listener() as address:
        started = time.monotonic()
        with pytest.raises(ConfigError) as raised:
            await wait_until_serving(address, "default", 1.5)
        elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 1.5 + SLACK_S
    assert f"Temporal at {address}" in str(raised.value) and symptom in str(raised.value)


async def test_missing_namespace_is_not_serving(temporal_env: WorkflowEnvironment) -> None:
    """A serving frontend without the namespace: ConfigError saying the namespace is not found."""
    with pytest.raises(ConfigError) as raised:
        await wait_until_serving(address_of(temporal_env), "no-such-namespace", 1.0)
    message = str(raised.value)
    assert "(namespace 'no-such-namespace')" in message and "NOT_FOUND" in message

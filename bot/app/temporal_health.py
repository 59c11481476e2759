"""Waiting until a Temporal frontend serves: connect and health-check with backoff, to a deadline.

The dev server accepts TCP before its frontend is healthy ("Frontend is not healthy yet"), and a
port may belong to something that is not Temporal at all, so an open port proves nothing. Serving
means: the SDK connected (it calls GetSystemInfo while connecting), the gRPC health check says
SERVING, and the namespace exists.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from bot.errors import ConfigError

ATTEMPT_CAP_S = 5.0  # one connect or check; a listener that never answers costs this much
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 1.0
_MAX_ERROR_CHARS = 300


class _NotServing(Exception):
    pass


async def wait_until_serving(
    address: str,
    namespace: str = "default",
    timeout: float = 30.0,
    *,
    api_key: str | None = None,
    tls: bool = False,
    data_converter: DataConverter = pydantic_data_converter,
) -> Client:
    """A client of the Temporal frontend at `address` once it serves `namespace`; retries with
    backoff until `timeout` seconds have passed, then raises ConfigError naming the address and
    the last error seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    backoff = FIRST_BACKOFF_S
    client: Client | None = None
    last_error = "no attempt finished in time"
    while (remaining := deadline - loop.time()) > 0:
        attempt = min(ATTEMPT_CAP_S, remaining)
        try:
            if client is None:
                client = await asyncio.wait_for(
                    Client.connect(
                        address,
                        namespace=namespace,
                        data_converter=data_converter,
                        api_key=api_key,
                        tls=tls or api_key is not None,
                        connect_timeout=timedelta(seconds=attempt),
                    ),
                    attempt,
                )
            await asyncio.wait_for(_check_serving(client, namespace, attempt), attempt)
            return client
        except TimeoutError:
            last_error = f"no answer within {attempt:.1f}s"
        except (RuntimeError, RPCError, OSError, _NotServing) as exc:
            last_error = _describe(exc)
        await asyncio.sleep(max(min(backoff, deadline - loop.time()), 0))
        backoff = min(backoff * 2, MAX_BACKOFF_S)
    raise ConfigError(
        f"Temporal at {address} (namespace {namespace!r}) is not serving after {timeout:g}s: "
        f"{last_error}"
    )


async def _check_serving(client: Client, namespace: str, timeout: float) -> None:
    limit = timedelta(seconds=timeout)
    if not await client.service_client.check_health(timeout=limit):
        raise _NotServing("the health check answered NOT_SERVING")
    try:
        request = DescribeNamespaceRequest(namespace=namespace)
        await client.workflow_service.describe_namespace(request, timeout=limit)
    except RPCError as exc:
        # A key scoped to its namespace may not describe it: the frontend answered, it serves.
        if exc.status is not RPCStatusCode.PERMISSION_DENIED:
            raise


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RPCError):
        text = f"{exc.status.name}: {exc.message}"
    else:
        text = str(exc) or type(exc).__name__
    return text[:_MAX_ERROR_CHARS]

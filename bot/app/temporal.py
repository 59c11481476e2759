"""Connecting to the Temporal frontend (pydantic payloads; TLS and an API key for Temporal
Cloud)."""

from __future__ import annotations

from temporalio.client import Client

from bot.app.temporal_health import wait_until_serving
from bot.errors import ConfigError


async def connect(
    address: str,
    namespace: str = "default",
    *,
    api_key: str | None = None,
    tls: bool = False,
    timeout: float = 15.0,
) -> Client:
    """A client of the Temporal frontend at `address` (TLS with an API key for Temporal Cloud),
    once it serves: a cluster that is restarting gets `timeout` seconds to come back."""
    try:
        return await wait_until_serving(
            address, namespace, timeout, api_key=api_key, tls=tls or api_key is not None
        )
    except ConfigError as exc:
        raise ConfigError(f"cannot reach Temporal at {address}: {exc}") from exc

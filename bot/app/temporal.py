"""Connecting to the Temporal frontend (pydantic payloads; TLS and an API key for Temporal
Cloud)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bot.errors import ConfigError


async def connect(
    address: str, namespace: str = "default", *, api_key: str | None = None, tls: bool = False
) -> Client:
    """A client of the Temporal frontend at `address` (TLS with an API key for Temporal Cloud)."""
    try:
        return await Client.connect(
            address,
            namespace=namespace,
            data_converter=pydantic_data_converter,
            api_key=api_key,
            tls=tls or api_key is not None,
        )
    except RuntimeError as exc:  # the SDK's "Failed client connect: …"
        raise ConfigError(f"cannot reach Temporal at {address}: {exc}") from exc

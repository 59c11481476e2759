"""Heartbeats while an activity's long work is in flight: Temporal learns it is alive, and a
cancellation (`/orchestrate cancel`) reaches it through the heartbeat's answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

# How often a long activity heartbeats: well inside its heartbeat timeout (workflows/policies.py,
# about a minute), after which a silent attempt is started again elsewhere.
HEARTBEAT_SECONDS = 10.0


@contextlib.asynccontextmanager
async def heartbeating(every_seconds: float) -> AsyncIterator[None]:
    """Heartbeat every `every_seconds` while the body runs (the worker batches what it sends)."""
    ticker = asyncio.create_task(_beat(every_seconds))
    try:
        yield
    finally:
        ticker.cancel()


async def _beat(every_seconds: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every_seconds)

"""How workflows call activities: one place for timeouts and retry policies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

A = TypeVar("A")
R = TypeVar("R")

GITHUB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
)


async def github_call(activity: Callable[[Any, A], Awaitable[R]], arg: A) -> R:
    """Run a short GitHub/Temporal activity; Temporal retries transient failures."""
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=GITHUB_RETRY,
    )

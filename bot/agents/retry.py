"""Transient model errors (429, 529, 5xx, a dropped connection, a timeout) retried for the same
request, so a conversation is never thrown away for them: the wait honours the API's
`retry-after` (else backs off exponentially), and the tries are bounded by a number of attempts
and by the caller's deadline. An error that no retry cures (400, 401) is raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.agents.model import ModelClient, ModelReply
from bot.errors import ModelError

__all__ = ["DEFAULT_RETRY", "ModelRetry", "RetryingModel", "retrying"]

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRetry:
    attempts: int = 6  # tries of one request, the first included
    first_delay: float = 1.0  # doubled after each failure, up to max_delay
    max_delay: float = 60.0

    def delay(self, error: ModelError, failures: int) -> float | None:
        """Seconds to wait after the `failures`-th failed try, or None when no retry: the error
        is not transient, or the attempts are used up. The API's retry-after wins."""
        if not error.retryable or failures >= self.attempts:
            return None
        if error.retry_after is not None:
            return error.retry_after
        return float(min(self.first_delay * 2 ** (failures - 1), self.max_delay))


DEFAULT_RETRY = ModelRetry()


async def retrying(
    call: Callable[[], Awaitable[T]],
    retry: ModelRetry,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`call()`, tried again after transient ModelErrors. Gives up (raising the last error)
    when the attempts are used up or the wait would end past `deadline` (a `clock` time)."""
    failures = 0
    while True:
        try:
            return await call()
        except ModelError as error:
            failures += 1
            delay = retry.delay(error, failures)
            if delay is None or (deadline is not None and clock() + delay >= deadline):
                if failures > 1:
                    raise _after(error, failures) from None
                raise
            log.info("model call failed (%s); try %d in %.1fs", error, failures + 1, delay)
            await sleep(delay)


def _after(error: ModelError, tries: int) -> ModelError:
    return ModelError(
        f"{error} (after {tries} tries)",
        retryable=error.retryable,
        status=error.status,
        retry_after=error.retry_after,
    )


@dataclass
class RetryingModel:
    """A ModelClient whose every call is retried (the planner's, the cache warmer's)."""

    model: ModelClient
    retry: ModelRetry = DEFAULT_RETRY
    deadline: float | None = None  # a time.monotonic() time

    async def create(self, **request: Any) -> ModelReply:
        return await retrying(
            lambda: self.model.create(**request), self.retry, deadline=self.deadline
        )

"""The one place a BotError becomes what Temporal acts on: an ApplicationError whose type is the
error's class name and whose `non_retryable` says whether trying again can help.

Every activity runs its work inside `boundary()`; the run workflow's memory update maps its
refusals with `application_error` too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from bot.errors import BotError, GitError, GitHubError, ModelError, SandboxError

# How soon work interrupted by a worker's shutdown is tried again (by another worker, or this
# one restarted): at once, give or take.
SHUTDOWN_RETRY_DELAY = timedelta(seconds=1)

# GitHub answers that will not change on retry.
FINAL_GITHUB_STATUSES = frozenset({400, 401, 403, 404, 410, 422})


def retryable(exc: BotError) -> bool:
    """Whether the same call may succeed later: a GitHub answer other than a final one, a model
    error the API calls transient, git or the sandbox (the network, the disk, a race). A bad
    config, a refused path or write, an invalid plan fail the same way every time."""
    if isinstance(exc, GitHubError):
        return exc.status not in FINAL_GITHUB_STATUSES
    if isinstance(exc, ModelError):
        return exc.retryable
    return isinstance(exc, GitError | SandboxError)


def application_error(exc: BotError) -> ApplicationError:
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not retryable(exc))


@contextlib.contextmanager
def boundary() -> Iterator[None]:
    """Inside an activity: a BotError leaves as the ApplicationError that tells Temporal
    whether to retry (anything else is a bug, which Temporal retries)."""
    try:
        yield
    except BotError as exc:
        raise application_error(exc) from exc


@contextlib.contextmanager
def retried_after_shutdown() -> Iterator[None]:
    """Inside an activity: cancelled because its worker is shutting down (Ctrl-C, twice; a
    deploy), the work leaves as a retryable `WorkerShutdown` error, tried again soon. A cancel
    of the run itself stays a cancel."""
    try:
        yield
    except asyncio.CancelledError:
        if not activity.is_worker_shutdown():
            raise
        raise ApplicationError(
            "the worker shut down before this finished; it is tried again",
            type="WorkerShutdown",
            next_retry_delay=SHUTDOWN_RETRY_DELAY,
        ) from None

"""The one place a BotError becomes what Temporal acts on: an ApplicationError whose type is the
error's class name, whose `non_retryable` says whether trying again can help, and whose
`next_retry_delay` is the wait a rate-limited server asked for.

Every activity runs its work inside `boundary()`; the run workflow's memory update maps its
refusals with `application_error` too. An activity interrupted by its worker's shutdown leaves
as a retryable WorkerShutdown, tried again soon on another worker. `last_attempt()` tells an
activity that no retry would follow a failure (it then reports instead of raising).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from bot.core.ratelimits import MAX_RETRY_DELAY_S
from bot.errors import BotError, GitError, GitHubError, ModelError, SandboxError

# GitHub answers that will not change on retry (unless they are a rate limit: retry_after).
FINAL_GITHUB_STATUSES = frozenset({400, 401, 403, 404, 410, 422})
# After a worker shut down, the attempt is started again this soon (by another worker).
SHUTDOWN_RETRY_DELAY = timedelta(seconds=1)


def retryable(exc: BotError) -> bool:
    """Whether the same call may succeed later: a rate limit, a GitHub answer other than a final
    one, a model error the API calls transient, git or the sandbox (the network, the disk, a
    race). A bad config, a refused path or write, an invalid plan fail the same way every time."""
    if isinstance(exc, GitHubError):
        return exc.retry_after is not None or exc.status not in FINAL_GITHUB_STATUSES
    if isinstance(exc, ModelError):
        return exc.retryable
    return isinstance(exc, GitError | SandboxError)


def retry_delay(exc: BotError) -> timedelta | None:
    """The wait a server asked for, capped: Temporal takes it instead of its own backoff (and
    beyond the policy's maximum interval); None leaves the backoff to the policy."""
    delay = exc.retry_after if isinstance(exc, GitHubError | ModelError) else None
    if delay is None or not retryable(exc):
        return None
    return timedelta(seconds=min(max(delay, 0.0), MAX_RETRY_DELAY_S))


def application_error(exc: BotError) -> ApplicationError:
    return ApplicationError(
        str(exc),
        type=type(exc).__name__,
        non_retryable=not retryable(exc),
        next_retry_delay=retry_delay(exc),
    )


def worker_shutdown() -> ApplicationError:
    return ApplicationError(
        "the worker shut down during this activity; another attempt follows",
        type="WorkerShutdown",
        non_retryable=False,
        next_retry_delay=SHUTDOWN_RETRY_DELAY,
    )


@contextlib.contextmanager
def boundary() -> Iterator[None]:
    """Inside an activity: a BotError leaves as the ApplicationError that tells Temporal
    whether (and when) to retry; a cancellation by the worker's shutdown as a retryable
    WorkerShutdown (anything else is a bug, which Temporal retries)."""
    try:
        yield
    except BotError as exc:
        raise application_error(exc) from exc
    except asyncio.CancelledError:
        if activity.in_activity() and activity.is_worker_shutdown():
            raise worker_shutdown() from None
        raise


def last_attempt(now: datetime | None = None) -> bool:
    """Inside an activity: whether Temporal would not try it again after a retryable failure,
    as its retry policy says (workflows/policies.py): its attempts are used up, or the next
    one, started after the policy's wait, could not run as long as this one did before the
    schedule-to-close deadline."""
    info = activity.info()
    policy = info.retry_policy
    if policy is None:
        return False  # the server's default: tried again without end
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return True
    if info.schedule_to_close_timeout is None:
        return False
    now = now or datetime.now(UTC)
    wait = policy.initial_interval * policy.backoff_coefficient ** (info.attempt - 1)
    if policy.maximum_interval is not None:
        wait = min(wait, policy.maximum_interval)
    took = now - info.started_time
    return now + wait + took > info.scheduled_time + info.schedule_to_close_timeout

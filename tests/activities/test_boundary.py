"""The one error boundary: each BotError leaves an activity as the ApplicationError that names
its class and says whether Temporal may retry it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from bot.activities.boundary import application_error, boundary, last_attempt, worker_shutdown
from bot.agents.planner import PlanInvalid
from bot.errors import (
    BotError,
    ConfigError,
    GitError,
    GitHubError,
    MemoryRefused,
    ModelError,
    PathRefused,
    RebaseConflict,
    SandboxError,
    ToolError,
)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (GitHubError("rate limited", 502), True),
        (GitHubError("timed out"), True),
        (GitHubError("gone", 404), False),
        (GitHubError("invalid", 422), False),
        (ModelError("overloaded", retryable=True, status=529), True),
        (ModelError("bad request", status=400), False),
        (GitError("fetch failed"), True),
        (RebaseConflict("conflict", ["a.py"]), True),
        (SandboxError("bwrap missing"), True),
        (ConfigError("invalid config"), False),
        (PlanInvalid("no plan"), False),
        (PathRefused("outside"), False),
        (ToolError("bad input"), False),
        (MemoryRefused("full"), False),
    ],
)
def test_each_error_names_its_class_and_says_whether_to_retry(
    error: BotError, retryable: bool
) -> None:
    """Type is the class name; only what may pass (network, git, sandbox, transient model or
    GitHub answers) is retryable."""
    mapped = application_error(error)
    assert (mapped.type, mapped.non_retryable, mapped.message) == (
        type(error).__name__,
        not retryable,
        str(error),
    )


def test_boundary_maps_bot_errors_and_lets_others_through() -> None:
    """Inside the boundary a BotError becomes its ApplicationError (chained); a bug stays itself."""
    with pytest.raises(ApplicationError) as caught, boundary():
        raise ConfigError("no default branch")
    assert caught.value.type == "ConfigError" and isinstance(caught.value.__cause__, ConfigError)
    with pytest.raises(KeyError), boundary():
        raise KeyError("bug")


@pytest.mark.parametrize(
    ("error", "delay"),
    [
        (GitHubError("secondary limit", 403, retry_after=61.0), timedelta(seconds=61)),
        (GitHubError("primary limit", 429, retry_after=5.5), timedelta(seconds=5.5)),
        (GitHubError("reset in two hours", 403, retry_after=7200.0), timedelta(minutes=10)),
        (
            ModelError("overloaded", retryable=True, status=529, retry_after=3.0),
            timedelta(seconds=3),
        ),
        (ModelError("no wait named", retryable=True, status=500), None),
        (GitHubError("bad gateway", 502), None),
    ],
)
def test_a_rate_limit_is_retried_after_the_servers_wait(
    error: BotError, delay: timedelta | None
) -> None:
    """A rate limit (even a 403) is retryable, after the wait the server asked for, capped at
    ten minutes; other transient errors leave the backoff to the retry policy."""
    mapped = application_error(error)
    assert (mapped.non_retryable, mapped.next_retry_delay) == (False, delay)


def test_a_refused_permission_is_final_and_says_what_was_refused() -> None:
    """A 403 that is no rate limit is not retried; its message names the call and the reason."""
    error = GitHubError(
        "create comment: refused by GitHub (HTTP 403: Resource not accessible)", 403
    )
    mapped = application_error(error)
    assert (mapped.non_retryable, mapped.next_retry_delay) == (True, None)
    assert mapped.message.startswith("create comment: refused by GitHub (HTTP 403")


def test_a_model_wait_on_a_final_error_is_ignored() -> None:
    """A retry-after on an answer no retry cures (400) does not make it retryable."""
    mapped = application_error(ModelError("bad", status=400, retry_after=9.0))
    assert (mapped.non_retryable, mapped.next_retry_delay) == (True, None)


def test_worker_shutdown_is_a_retryable_failure_tried_again_soon() -> None:
    """What an activity interrupted by its worker's shutdown leaves as: retryable, next attempt
    within a second or so (another worker), never a cancellation."""
    error = worker_shutdown()
    assert (error.type, error.non_retryable) == ("WorkerShutdown", False)
    assert error.next_retry_delay is not None and error.next_retry_delay <= timedelta(seconds=1)


def test_a_cancel_outside_a_shutdown_stays_a_cancel() -> None:
    """Outside an activity (or without a shutdown) a cancellation passes through unchanged:
    `/orchestrate cancel` must still stop an activity."""
    with pytest.raises(asyncio.CancelledError), boundary():
        raise asyncio.CancelledError


_START = datetime(2030, 1, 1, tzinfo=UTC)
_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=5,
)


@pytest.mark.parametrize(
    ("attempt", "policy", "minutes_left", "expected"),
    [
        (1, _POLICY, 39, False),  # the first of five, plenty of time
        (4, _POLICY, 39, False),
        (5, _POLICY, 39, True),  # the policy's attempts are used up
        (2, replace(_POLICY, maximum_attempts=0), 39, False),  # uncounted, time left
        (2, _POLICY, 1.25, True),  # a wait (20 s) and another minute pass the deadline
        (2, _POLICY, 1.5, False),
        (9, None, 0, False),  # no policy: the server retries without end
    ],
)
def test_last_attempt_follows_the_policy_and_the_deadline(
    attempt: int, policy: RetryPolicy | None, minutes_left: float, expected: bool
) -> None:
    """last_attempt: true when the policy's attempts are used up, or when the next attempt,
    after the policy's wait, could not run as long as this one before schedule-to-close."""
    now = _START + timedelta(minutes=10)
    env = ActivityEnvironment()
    env.info = replace(
        env.info,
        attempt=attempt,
        retry_policy=policy,
        scheduled_time=_START,
        started_time=now - timedelta(minutes=1),  # this attempt took a minute so far
        schedule_to_close_timeout=timedelta(minutes=10 + minutes_left),
    )
    assert env.run(last_attempt, now) is expected

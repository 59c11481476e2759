"""How workflows call activities: named options per kind of work, in one place.

Timeouts bound one attempt; retry policies say how often and how fast to try again. What an
error says about retrying is decided where it happens (activities/boundary.py marks it
non-retryable), so these policies list no error types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from bot.core.repo_config import RepoConfig

A = TypeVar("A")
R = TypeVar("R")


@dataclass(frozen=True)
class Options:
    """The options of one kind of activity call."""

    start_to_close: timedelta
    retry: RetryPolicy
    heartbeat: timedelta | None = None
    cancellation: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL


# Network calls whose failures pass quickly (a dropped connection, a 5xx, a rate limit).
_NETWORK_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
)
# A REST call to GitHub (or the local forge).
GITHUB = Options(timedelta(seconds=30), _NETWORK_RETRY)
# A signal to, or a query of, another run: an RPC to the Temporal frontend.
RUNS = Options(timedelta(seconds=30), _NETWORK_RETRY)
# The run's context: a mirror sync, and a first clone of a large repository takes its time.
REPO_CONTEXT = Options(timedelta(minutes=10), _NETWORK_RETRY)
# git against the remote: the scratch branch, the attribution of the final diff.
GIT = Options(timedelta(minutes=5), _NETWORK_RETRY)

# A model call: rate limits and overload pass after a while.
_MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=5,
)
PLAN = Options(timedelta(minutes=5), _MODEL_RETRY)
WARM_CACHE = Options(timedelta(minutes=2), _MODEL_RETRY)


def environment(config: RepoConfig) -> Options:
    """The repository's environment: as long as its setup may take (and a margin), with
    heartbeats (a lost worker is noticed, a cancel reaches it). A failing setup is a result;
    only the machinery fails, and is tried again once."""
    return Options(
        timedelta(minutes=config.setup_timeout_minutes + 5),
        RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=2),
        heartbeat=timedelta(seconds=60),
    )


def agent(config: RepoConfig) -> Options:
    """One agent: as long as its time budget (and a margin, and the time to build the
    environment on a worker that lacks it), one retry, heartbeats (a cancel reaches it
    through them), and a cancel waits until it stopped (it pushes nothing after)."""
    return Options(
        timedelta(minutes=config.budget.agent_minutes + config.setup_timeout_minutes + 5),
        RetryPolicy(maximum_attempts=2),
        heartbeat=timedelta(seconds=60),
        cancellation=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )


def tests(config: RepoConfig) -> Options:
    """One round of sandboxed tests: as long as the test timeout and the environment's setup
    (the head's manifests may have changed), and a margin for the worktree. A failing test is
    a result, not an error: only the machinery fails, and a long run is not repeated many
    times."""
    return Options(
        timedelta(minutes=config.test_timeout_minutes + config.setup_timeout_minutes + 10),
        RetryPolicy(
            initial_interval=timedelta(seconds=5),
            maximum_interval=timedelta(seconds=60),
            maximum_attempts=3,
        ),
    )


async def call(options: Options, activity: Callable[[Any, A], Awaitable[R]], arg: A) -> R:
    """Run an activity method with `options` (workflow code)."""
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=options.start_to_close,
        retry_policy=options.retry,
        heartbeat_timeout=options.heartbeat,
        cancellation_type=options.cancellation,
    )

"""How workflows call activities: named options per kind of work, in one place.

Timeouts bound one attempt; retry policies say how fast to try again; schedule-to-close bounds
all attempts together. What an error says about retrying is decided where it happens
(activities/boundary.py marks it non-retryable, or names the wait a rate limit asked for), so
these policies list no error types.

Attempts are not counted (`maximum_attempts=0`): a worker's shutdown or death costs an attempt,
and a long rate limit costs several, so only the schedule-to-close timeout ends the retries
(except the environment's: ENVIRONMENT_RETRY).
Long activities heartbeat (activities/heartbeat.py): a dead worker's attempt times out after
HEARTBEAT (about a minute) instead of its whole start-to-close timeout.

A server's wait (`next_retry_delay`) is taken as it is: Temporal does not cap it at the
policy's `maximum_interval` (temporalio/temporal#6063; tests/workflows/test_retry_delays.py),
only the schedule-to-close timeout ends the wait.
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
    from bot.activities.boundary import application_error
    from bot.activities.payloads import payload_problem
    from bot.core.repo_config import RepoConfig

A = TypeVar("A")
R = TypeVar("R")

# How long a silent attempt of a long activity is trusted before it is tried again elsewhere.
HEARTBEAT = timedelta(seconds=60)


@dataclass(frozen=True)
class Options:
    """The options of one kind of activity call."""

    start_to_close: timedelta
    retry: RetryPolicy
    heartbeat: timedelta | None = None
    cancellation: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL
    schedule_to_close: timedelta | None = None  # every attempt together, waits included


# Network calls whose failures pass quickly (a dropped connection, a 5xx, a rate limit).
_NETWORK_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)
# A REST call to GitHub (or the local forge). Half an hour outlasts a secondary rate limit
# (GitHub asks for a minute or more, several times in a row) and a short outage.
GITHUB = Options(timedelta(seconds=30), _NETWORK_RETRY, schedule_to_close=timedelta(minutes=30))
# A call whose failure costs only looks: a reaction, an edit of the run's status comment (the
# publisher sends the newer text with the next change, workflows/status.py). It still outlasts
# a secondary rate limit or two.
COSMETIC = Options(timedelta(seconds=30), _NETWORK_RETRY, schedule_to_close=timedelta(minutes=5))
# A signal-with-start: an RPC to the Temporal frontend that must get through.
RUNS = Options(timedelta(seconds=30), _NETWORK_RETRY, schedule_to_close=timedelta(minutes=30))
# A query of a run for a reply's link: the reply links something else if it takes long.
QUERY = Options(timedelta(seconds=10), _NETWORK_RETRY, schedule_to_close=timedelta(minutes=1))
# The run's context: a mirror sync, and a first clone of a large repository takes its time.
REPO_CONTEXT = Options(
    timedelta(minutes=10),
    _NETWORK_RETRY,
    heartbeat=HEARTBEAT,
    schedule_to_close=timedelta(minutes=40),
)
# git against the remote: the scratch branch, the attribution of the final diff.
GIT = Options(
    timedelta(minutes=5),
    _NETWORK_RETRY,
    heartbeat=HEARTBEAT,
    schedule_to_close=timedelta(minutes=30),
)

# A model call: rate limits and overload pass after a while.
_MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=0,
)
PLAN = Options(
    timedelta(minutes=5), _MODEL_RETRY, heartbeat=HEARTBEAT, schedule_to_close=timedelta(minutes=30)
)
WARM_CACHE = Options(
    timedelta(minutes=2), _MODEL_RETRY, heartbeat=HEARTBEAT, schedule_to_close=timedelta(minutes=15)
)


# Crashes and shutdowns: tried again soon, as often as the time allows (no attempt count that a
# few restarts could use up). Model errors are retried inside the agent, not by this.
_CRASH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)


# The environment's setup, tried again after a crash or a shutdown, and after failing while
# the package index (or another allowed host) was failing: 10 s, 20 s, 40 s, 60 s apart, so
# an outage of a few minutes is outlasted. Its attempts are counted, unlike the others': the
# last one returns the failure for the run to report (activities/boundary.py `last_attempt`).
ENVIRONMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=5,
)


def environment(config: RepoConfig) -> Options:
    """The repository's environment: as long as its setup may take (and a margin), with
    heartbeats (a lost worker is noticed, a cancel reaches it). A failing setup is a result;
    the machinery failing, or the index failing meanwhile, is tried again (ENVIRONMENT_RETRY),
    within two attempts' time."""
    attempt = timedelta(minutes=config.setup_timeout_minutes + 5)
    return Options(attempt, ENVIRONMENT_RETRY, heartbeat=HEARTBEAT, schedule_to_close=attempt * 2)


def agent(config: RepoConfig) -> Options:
    """One agent: as long as its time budget (and a margin, and the time to build the
    environment on a worker that lacks it); after a crash or a shutdown, tried again (an
    attempt first finds what an earlier one pushed) until three attempts' time is spent;
    heartbeats (a dead worker is noticed within a minute, a cancel reaches the agent), and a
    cancel waits until it stopped (it pushes nothing after)."""
    attempt = timedelta(minutes=config.budget.agent_minutes + config.setup_timeout_minutes + 5)
    return Options(
        attempt,
        _CRASH_RETRY,
        heartbeat=HEARTBEAT,
        cancellation=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        schedule_to_close=attempt * 3,
    )


# Landing an agent's commit on the run's branch (a rebase and a push): git against the
# remote, retried for as long as a bad stretch of the network or the forge may last.
LAND = Options(
    timedelta(minutes=5),
    _CRASH_RETRY,
    heartbeat=HEARTBEAT,
    schedule_to_close=timedelta(minutes=30),
)


def tests(config: RepoConfig) -> Options:
    """One round of sandboxed tests: as long as the test timeout and the environment's setup
    (the head's manifests may have changed), and a margin for the worktree. A failing test is
    a result, not an error: only the machinery fails, and a long run is not repeated many
    times (three attempts' time in all)."""
    attempt = timedelta(minutes=config.test_timeout_minutes + config.setup_timeout_minutes + 10)
    return Options(
        attempt,
        RetryPolicy(
            initial_interval=timedelta(seconds=5),
            maximum_interval=timedelta(seconds=60),
            maximum_attempts=0,
        ),
        heartbeat=HEARTBEAT,
        schedule_to_close=attempt * 3,
    )


async def call(options: Options, activity: Callable[[Any, A], Awaitable[R]], arg: A) -> R:
    """Run an activity method with `options` (workflow code). An input over the payload bound
    (activities/payloads.py) fails the run with a clear error instead of stalling it."""
    name = getattr(activity, "__name__", "an activity")
    problem = payload_problem(arg, workflow.payload_converter(), f"the input of {name}")
    if problem is not None:
        raise application_error(problem)
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=options.start_to_close,
        schedule_to_close_timeout=options.schedule_to_close,
        retry_policy=options.retry,
        heartbeat_timeout=options.heartbeat,
        cancellation_type=options.cancellation,
    )

"""The one error boundary: each BotError leaves an activity as the ApplicationError that names
its class and says whether Temporal may retry it."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from bot.activities.boundary import (
    SHUTDOWN_RETRY_DELAY,
    application_error,
    boundary,
    retried_after_shutdown,
)
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


async def test_work_cut_by_a_worker_shutdown_is_tried_again_soon() -> None:
    """Cancelled because its worker shuts down: a retryable WorkerShutdown error with a short
    next-retry delay (not an attempt lost); a cancel of the run stays a cancel."""

    async def work() -> None:
        with retried_after_shutdown():
            await asyncio.Event().wait()

    env = ActivityEnvironment()
    running = asyncio.ensure_future(env.run(work))
    await asyncio.sleep(0.01)
    env.worker_shutdown()
    env.cancel()
    with pytest.raises(ApplicationError) as caught:
        await running
    error = caught.value
    assert (error.type, error.non_retryable) == ("WorkerShutdown", False)
    assert error.next_retry_delay == SHUTDOWN_RETRY_DELAY
    cancelled = ActivityEnvironment()
    running = asyncio.ensure_future(cancelled.run(work))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

"""What the Temporal dev server does with our retry decisions: a server's wait
(`next_retry_delay`) is taken even beyond the policy's maximum interval, the schedule-to-close
timeout still ends the retries, and an activity cut short by its worker's shutdown is tried
again at once, as WorkerShutdown, not after the policy's backoff."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.exceptions import TimeoutError as TemporalTimeout
from temporalio.worker import Worker

from bot.activities.boundary import boundary
from bot.errors import GitHubError
from bot.workflows import policies
from tests.support.stack import eventually

ATTEMPT_STARTS: dict[str, list[float]] = {}  # workflow id → monotonic start of each attempt
# A policy whose own backoff is short and capped low: any longer gap is the server's wait.
SHORT = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    maximum_interval=timedelta(milliseconds=200),
    maximum_attempts=0,
)


def _attempt_started() -> int:
    ATTEMPT_STARTS.setdefault(activity.info().workflow_id or "", []).append(time.monotonic())
    return activity.info().attempt


class Probes:
    """Activities shaped like the app's: methods whose work runs inside the boundary."""

    @activity.defn
    async def rate_limited_once(self, wait_s: float) -> int:
        """Refused with GitHub's wait on the first attempt; then it goes through."""
        attempt = _attempt_started()
        with boundary():
            if attempt == 1:
                raise GitHubError("create comment: rate limited", 403, retry_after=wait_s)
        return attempt

    @activity.defn
    async def slow_then_quick(self, _: None) -> int:
        """The first attempt waits (until its worker shuts down); a later one returns at once."""
        attempt = _attempt_started()
        with boundary():
            if attempt == 1:
                await asyncio.sleep(60)
        return attempt


@workflow.defn(sandboxed=False)
class LimitedCall:
    @workflow.run
    async def run(self, wait_s: float, schedule_to_close_s: float) -> int:
        options = policies.Options(
            timedelta(seconds=10), SHORT, schedule_to_close=timedelta(seconds=schedule_to_close_s)
        )
        return await policies.call(options, Probes.rate_limited_once, wait_s)


@workflow.defn(sandboxed=False)
class InterruptedCall:
    @workflow.run
    async def run(self) -> int:
        # The policy's own backoff is long: a quick second attempt is the shutdown's delay.
        retry = RetryPolicy(initial_interval=timedelta(seconds=30), maximum_attempts=0)
        options = policies.Options(timedelta(seconds=60), retry)
        return await policies.call(options, Probes.slow_then_quick, None)


@asynccontextmanager
async def worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    probes = Probes()
    running = Worker(
        client,
        task_queue=task_queue,
        workflows=[LimitedCall, InterruptedCall],
        activities=[probes.rate_limited_once, probes.slow_then_quick],
    )
    task = asyncio.create_task(running.run())
    try:
        yield running
    finally:
        await running.shutdown()
        await task


async def test_a_servers_wait_is_taken_beyond_the_maximum_interval(
    temporal_client: Client, task_queue: str
) -> None:
    """GitHub asks for 2 s; the policy's backoff is at most 0.2 s: the second attempt starts
    after the 2 s (Temporal does not cap next_retry_delay at maximum_interval)."""
    workflow_id = f"limited-{uuid.uuid4().hex[:8]}"
    async with worker(temporal_client, task_queue):
        attempt = await temporal_client.execute_workflow(
            LimitedCall.run, args=[2.0, 30.0], id=workflow_id, task_queue=task_queue
        )
    first, second = ATTEMPT_STARTS[workflow_id]
    assert attempt == 2
    assert 2.0 <= second - first < 6.0


async def test_schedule_to_close_ends_a_wait_longer_than_it(
    temporal_client: Client, task_queue: str
) -> None:
    """A wait past the schedule-to-close timeout is not waited out: the call fails as timed
    out, at once, with the rate limit as its cause (the run can then say why)."""
    workflow_id = f"limited-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    async with worker(temporal_client, task_queue):
        with pytest.raises(WorkflowFailureError) as failed:
            await temporal_client.execute_workflow(
                LimitedCall.run, args=[30.0, 3.0], id=workflow_id, task_queue=task_queue
            )
    assert time.monotonic() - started < 10
    assert len(ATTEMPT_STARTS[workflow_id]) == 1
    cause = failed.value.cause
    assert isinstance(cause, ActivityError)
    assert "rate limited" in str(cause.cause) or isinstance(cause.cause, TemporalTimeout)


async def test_an_activity_cut_short_by_shutdown_is_retried_at_once_elsewhere(
    temporal_client: Client, task_queue: str
) -> None:
    """The worker shuts down under a running activity: the attempt fails as WorkerShutdown
    (our message, retryable), the next one is due about a second later rather than after the
    policy's 30 s backoff, and the next worker finishes it."""
    workflow_id = f"interrupted-{uuid.uuid4().hex[:8]}"
    async with worker(temporal_client, task_queue):
        handle = await temporal_client.start_workflow(
            InterruptedCall.run, id=workflow_id, task_queue=task_queue
        )
        await eventually(lambda: ATTEMPT_STARTS.get(workflow_id))
    description = await handle.describe()
    [pending] = description.raw_description.pending_activities
    failure = pending.last_failure
    assert failure.application_failure_info.type == "WorkerShutdown"
    assert failure.message.startswith("the worker shut down during this activity")
    assert not failure.application_failure_info.non_retryable
    failed_at = pending.last_attempt_complete_time.ToDatetime()
    assert pending.next_attempt_schedule_time.ToDatetime() - failed_at <= timedelta(seconds=2)
    async with worker(temporal_client, task_queue):
        assert await handle.result() == 2

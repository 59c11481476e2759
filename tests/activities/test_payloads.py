"""The one payload bound: no activity result or input over it reaches Temporal; the error is
clear, names the field, and is not retried."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from bot.activities.payloads import MAX_PAYLOAD_BYTES, PayloadBound, payload_problem
from bot.activities.repo import RepoActivities
from bot.app.worker import build_run_worker, build_worker
from bot.core.attribution import Attribution, Hunk
from tests.support.payload_probe import Blob, BlobActivities, PayloadProbe

CONVERTER = pydantic_data_converter.payload_converter
OVER = MAX_PAYLOAD_BYTES + 1000


def test_a_small_value_passes_and_a_large_one_names_its_field() -> None:
    """Under the bound: no problem. Over it: the message gives the size, the limit and the
    dotted path of the field holding most of the bytes."""
    assert payload_problem(Blob(text="x" * 1000), CONVERTER, "the result of x") is None

    problem = payload_problem(Blob(text="x" * OVER), CONVERTER, "the result of make_blob")

    assert problem is not None
    assert str(problem).startswith("the result of make_blob is ")
    assert f"(mostly `text`); the limit is {MAX_PAYLOAD_BYTES} bytes" in str(problem)


def test_the_field_is_found_deep_in_lists_and_models() -> None:
    """A big nested value is named down to the element that holds it."""
    hunk = Hunk(path="p" * OVER, old_path=None, status="added", new_start=1, new_count=1,
                old_start=0, old_count=0, added=1, removed=0, agents=[], commits=[],
                lines_by_agent={})  # fmt: skip
    small = hunk.model_copy(update={"path": "small"})
    value = Attribution(hunks=[small, hunk], totals_by_agent={}, total_added=2, total_removed=0)

    problem = payload_problem(value, CONVERTER, "the result of attribute")

    assert problem is not None and "(mostly `hunks.1.path`)" in str(problem)


async def test_every_worker_the_app_builds_bounds_its_activities(
    temporal_client: Client, task_queue: str
) -> None:
    """Both worker builders install the bound."""
    activities = RepoActivities.__new__(RepoActivities)
    workers = [
        build_worker(temporal_client, f"{task_queue}-a", []),
        build_run_worker(temporal_client, f"{task_queue}-b", [activities.run_context]),
    ]
    for worker in workers:
        assert any(isinstance(i, PayloadBound) for i in worker.config()["interceptors"])


async def _probe(client: Client, queue: str, mode: str, size: int) -> tuple[int, BaseException]:
    """Run the probe workflow on a worker with the bound; its activity calls and failure."""
    blobs = BlobActivities()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[PayloadProbe],
        activities=[blobs.make_blob, blobs.measure_blob],
        interceptors=[PayloadBound()],
    ):
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(
                client.execute_workflow(
                    PayloadProbe.run,
                    args=[mode, size],
                    id=f"probe-{uuid.uuid4()}",
                    task_queue=queue,
                ),
                60,
            )
    return blobs.calls, failed.value.cause


async def test_an_oversized_activity_result_fails_once_and_clearly(
    temporal_client: Client, task_queue: str
) -> None:
    """An activity returning more than the bound fails with a non-retryable PayloadTooLarge
    naming the activity and the field (one attempt, not eight), instead of Temporal's own
    rejection on every attempt."""
    calls, cause = await _probe(temporal_client, task_queue, "result", OVER)

    assert isinstance(cause, ActivityError)
    error = cause.cause
    assert isinstance(error, ApplicationError) and error.type == "PayloadTooLarge"
    assert error.non_retryable and calls == 1
    assert "the result of make_blob is" in error.message and "(mostly `text`)" in error.message


async def test_an_oversized_activity_input_fails_the_workflow_before_scheduling(
    temporal_client: Client, task_queue: str
) -> None:
    """A workflow about to send more than the bound fails with PayloadTooLarge naming the
    activity; the activity never runs."""
    calls, cause = await _probe(temporal_client, task_queue, "input", OVER)

    assert isinstance(cause, ApplicationError) and cause.type == "PayloadTooLarge"
    assert "the input of measure_blob is" in cause.message and calls == 0

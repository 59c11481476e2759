"""A workflow and activities that move payloads of a chosen size, for the payload bound's
tests (activities/payloads.py) on a real worker: importable by Temporal's workflow sandbox."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from bot.workflows import policies

OPTIONS = policies.Options(timedelta(seconds=30), RetryPolicy(maximum_attempts=3))


class Blob(BaseModel):
    """A small field and a big one."""

    note: str = "small"
    text: str = ""


class BlobActivities:
    def __init__(self) -> None:
        self.calls = 0

    @activity.defn
    async def make_blob(self, size: int) -> Blob:
        self.calls += 1
        return Blob(text="x" * size)

    @activity.defn
    async def measure_blob(self, blob: Blob) -> int:
        self.calls += 1
        return len(blob.text)


@workflow.defn
class PayloadProbe:
    """`result`: an activity returns `size` characters; `input`: one is sent them."""

    @workflow.run
    async def run(self, mode: str, size: int) -> int:
        if mode == "result":
            blob = await policies.call(OPTIONS, BlobActivities.make_blob, size)
            return len(blob.text)
        return await policies.call(OPTIONS, BlobActivities.measure_blob, Blob(text="x" * size))

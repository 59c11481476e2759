"""One bound on what crosses Temporal: no activity result and no activity input may be larger
than MAX_PAYLOAD_BYTES once converted.

Temporal refuses a payload over 2 MB (and gRPC messages over 4 MB): an activity whose result is
too large fails on every attempt, and a workflow that schedules an oversized input stalls. Text
that repositories and models control is truncated where it is made (the repository summary,
test output, the attribution table, agents' summaries); this is the one check behind all of
that, for every activity of the worker (`PayloadBound`, a worker interceptor) and every call
the workflows make (`check_input`, used by workflows/policies.py): past the bound, a clear
non-retryable error naming the activity and the field that holds most of the bytes.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python
from temporalio import activity
from temporalio.converter import PayloadConverter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from bot.activities.boundary import application_error
from bot.errors import PayloadTooLarge

__all__ = ["MAX_PAYLOAD_BYTES", "PayloadBound", "payload_problem"]

# Temporal warns at 512 KiB and refuses 2 MiB; history holds every result of a run.
MAX_PAYLOAD_BYTES = 512 * 1024


def payload_problem(
    value: Any, converter: PayloadConverter, what: str, limit: int = MAX_PAYLOAD_BYTES
) -> PayloadTooLarge | None:
    """None when `value` converts to at most `limit` bytes; else the error saying which field
    of it holds most of them."""
    size = sum(payload.ByteSize() for payload in converter.to_payloads([value]))
    if size <= limit:
        return None
    field = _largest_field(to_jsonable_python(value, fallback=str))
    where = f" (mostly `{field}`)" if field else ""
    return PayloadTooLarge(f"{what} is {size} bytes{where}; the limit is {limit} bytes")


def _largest_field(data: Any) -> str:
    """The dotted path of the part of `data` that holds more than half of it, as deep as such
    a part goes ("" for the whole)."""
    path: list[str] = []
    while isinstance(data, dict | list) and data:
        children = data.items() if isinstance(data, dict) else enumerate(data)
        sizes = [(len(str(child)), key, child) for key, child in children]
        biggest, key, child = max(sizes, key=lambda found: found[0])
        if biggest * 2 < len(str(data)):
            break
        path.append(str(key))
        data = child
    return ".".join(path)


class PayloadBound(Interceptor):
    """Worker interceptor: every activity's result is checked before Temporal sees it."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BoundedActivity(next)


class _BoundedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        result = await super().execute_activity(input)
        info = activity.info()
        problem = payload_problem(
            result, activity.payload_converter(), f"the result of {info.activity_type}"
        )
        if problem is not None:
            raise application_error(problem)
        return result

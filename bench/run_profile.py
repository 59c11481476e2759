"""Where a run's wall time goes: the Temporal history of the run workflow (when each activity was
scheduled), the scripted model server's request log (exact times of every model call) and,
for a timeline, fakehub's request log as the bench saw it grow.

Times are seconds after the webhook POST. The history's activity *start* and *close* times are
not used for sums: a start is recorded late and closes of concurrent activities are batched.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

from bot.core.plan import PLAN_TOOL_NAME
from tests.fakehub import FakeHub
from tests.fakes import RecordedRequest

# Activities that run beside the awaited ones (the status-comment publisher's edits).
BESIDE = {"forge_edit_comment"}
STALL_S = 0.5
_CLOSING = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}


@dataclass
class ActivitySpan:
    name: str
    scheduled: float
    closed: float  # as recorded: may be late (batched with other events)


def _seconds(event: HistoryEvent) -> float:
    return event.event_time.seconds + event.event_time.nanos / 1e9


async def history(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return [event async for event in handle.fetch_history_events()]


def workflow_started(events: list[HistoryEvent], t0_wall: float) -> float:
    return _seconds(events[0]) - t0_wall


def activity_spans(events: list[HistoryEvent], t0_wall: float) -> list[ActivitySpan]:
    scheduled: dict[int, tuple[str, float]] = {}
    spans = []
    for event in events:
        at = _seconds(event) - t0_wall
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, at)
        elif event.event_type in _CLOSING:
            attributes = getattr(event, _CLOSING[event.event_type])
            name, when = scheduled[attributes.scheduled_event_id]
            spans.append(ActivitySpan(name, when, at))
    return sorted(spans, key=lambda span: span.scheduled)


def _gaps(calls: list[RecordedRequest]) -> list[float]:
    """For one agent: from each model answer to its next request (tools, memory, signals)."""
    return [b.started_at - a.ended_at for a, b in itertools.pairwise(calls)]


def _agent_turns(
    requests: list[RecordedRequest], roles: tuple[str, ...]
) -> dict[str, list[RecordedRequest]]:
    return {
        role: sorted(
            # max_tokens=0 is the cache-warming request, not a turn.
            (r for r in requests if r.role == role and r.body.get("max_tokens")),
            key=lambda r: r.started_at,
        )
        for role in roles
    }


def agent_figures(
    spans: list[ActivitySpan], requests: list[RecordedRequest], roles: tuple[str, ...], t0: float
) -> dict[str, dict[str, float]]:
    """Per agent: its first model call after its activity was scheduled (worktree set-up),
    the time between its model calls (tools, memory, progress signal), how many of those gaps
    exceeded half a second, and when its last answer came. `t0`: monotonic time of the POST."""
    agent_spans = [span for span in spans if span.name == "run_agent"]
    out = {}
    for role, calls in _agent_turns(requests, roles).items():
        first = calls[0].started_at - t0
        scheduled = max(span.scheduled for span in agent_spans if span.scheduled <= first)
        out[role] = {
            "first_call_after_scheduled_s": round(first - scheduled, 3),
            "between_turns_s": round(sum(_gaps(calls)), 3),
            "stalls_over_half_second": sum(gap > STALL_S for gap in _gaps(calls)),
            "last_answer_at_s": round(calls[-1].ended_at - t0, 3),
        }
    return out


def overhead_breakdown(
    spans: list[ActivitySpan],
    requests: list[RecordedRequest],
    roles: tuple[str, ...],
    *,
    t0: float,
    plan_latency: float,
    agent_latency: float,
    test_duration: float,
    pr_seen: float,
) -> dict[str, Any]:
    """For a run with concurrent agents: the wall time beyond the critical path, cut at exact
    timestamps; the parts add up to `wall - (plan_latency + agent_latency + test_duration)`.
    The agent parts are those of the agent whose last answer came last."""

    def scheduled(name: str) -> float:
        return next(span.scheduled for span in spans if span.name == name)

    plan = next(r for r in requests if r.role == PLAN_TOOL_NAME)
    turns = _agent_turns(requests, roles)
    last = max(roles, key=lambda role: turns[role][-1].ended_at)
    calls = turns[last]
    agents_at, tests_at = scheduled("run_agent"), scheduled("run_tests")
    parts = {
        "until_plan_call": plan.started_at - t0,
        "plan_call_beyond_latency": plan.ended_at - plan.started_at - plan_latency,
        "plan_to_agents_scheduled": agents_at - (plan.ended_at - t0),
        "agent_setup": calls[0].started_at - t0 - agents_at,
        "agent_between_turns": sum(_gaps(calls)),
        "agent_calls_beyond_latency": sum(r.ended_at - r.started_at for r in calls) - agent_latency,
        "last_answer_to_tests_scheduled": tests_at - (calls[-1].ended_at - t0),
        "tests_beyond_test_run": scheduled("attribute") - tests_at - test_duration,
        "attribute_and_pull_request": pr_seen - scheduled("attribute"),
    }
    return {
        "overhead_parts_s": {name: round(value, 3) for name, value in parts.items()},
        "last_agent": last,
    }


def serial_breakdown(
    spans: list[ActivitySpan], run_started: float, pr_seen: float
) -> dict[str, float]:
    """The run as the workflow awaits it: until the run workflow started, then each serial
    activity from its scheduling to the next one's (so the workflow's turnaround is included;
    the agents of a fan-out are one phase), the last one until the bench saw the PR."""
    phases: list[tuple[str, float]] = []
    for span in spans:
        if span.name in BESIDE or span.scheduled > pr_seen:
            continue
        if phases and span.name == phases[-1][0] == "run_agent":
            continue
        phases.append((span.name, span.scheduled))
    out = {"until_run_workflow_started": round(run_started, 3)}
    if phases:
        out["run_workflow_start_to_first_activity"] = round(phases[0][1] - run_started, 3)
    ends = [start for _, start in phases[1:]] + [pr_seen]
    for (name, start), end in zip(phases, ends, strict=True):
        out[name if name not in out else f"{name}#2"] = round(end - start, 3)
    return out


class HubWatch:
    """Timestamps fakehub's request log and pushes as they appear (polled every few ms). A
    request is logged when it was answered."""

    def __init__(self, hub: FakeHub, t0_mono: float, interval: float = 0.005) -> None:
        self.hub, self.t0, self.interval = hub, t0_mono, interval
        self.events: list[tuple[float, str]] = []
        self._requests = len(hub.state.requests)
        self._pushes = len(hub.state.pushes)

    async def watch(self) -> None:
        while True:
            now = time.monotonic() - self.t0
            with self.hub.state.lock:
                requests = self.hub.state.requests[self._requests :]
                pushes = self.hub.state.pushes[self._pushes :]
            self._requests += len(requests)
            self._pushes += len(pushes)
            self.events += [(now, f"hub {m} {path} {status}") for m, path, status in requests]
            self.events += [(now, f"hub push {p.ref} {p.new[:8]}") for p in pushes]
            await asyncio.sleep(self.interval)


def timeline(
    spans: list[ActivitySpan],
    requests: list[RecordedRequest],
    hub_events: list[tuple[float, str]],
    t0_mono: float,
) -> list[str]:
    """Every activity scheduled, model call and fakehub request of a run, in time order."""
    events = [(span.scheduled, f"schedule {span.name}") for span in spans]
    events += [(r.started_at - t0_mono, f"model {r.role or '?'} request") for r in requests]
    events += [(r.ended_at - t0_mono, f"model {r.role or '?'} answer") for r in requests]
    return [f"{at:8.3f} {what}" for at, what in sorted(events + hub_events)]

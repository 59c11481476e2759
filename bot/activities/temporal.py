"""Activities that reach other workflows: a command into its issue's queue (signal-with-start)
and where a run shows itself (for a workflow, a signal-with-start or a query of another
workflow is I/O). The client side is injected."""

from __future__ import annotations

from typing import Any, Protocol

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.inputs import EnqueueInput, RunLinkInput


class RunControls(Protocol):
    """The runs as the outside reaches them (workflows/client.py's RunClient)."""

    async def enqueue(self, request: dict[str, Any], task_queue: str) -> None:
        """Hand a command to its issue's workflow, starting that workflow if none runs."""
        ...

    async def link(self, workflow_id: str) -> str:
        """The run's status comment, or "" when it has none yet (or there is no such run)."""
        ...


class TemporalActivities:
    def __init__(self, runs: RunControls) -> None:
        self.runs = runs

    @activity.defn
    async def enqueue_command(self, params: EnqueueInput) -> None:
        """Signal-with-start of the command's issue workflow, on this worker's task queue. A
        retry after a lost answer signals again: the issue workflow drops the repeat."""
        with boundary():
            await self.runs.enqueue(params.request, activity.info().task_queue)

    @activity.defn
    async def run_link(self, params: RunLinkInput) -> str:
        """Where a running run shows itself (its plan comment), or "" when it has none yet."""
        with boundary():
            return await self.runs.link(params.workflow_id)

    def activities(self) -> list[Any]:
        return [self.enqueue_command, self.run_link]

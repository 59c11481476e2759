"""Activities that reach other runs: signalling a run, and asking where it shows itself (for a
workflow, a signal or a query to another workflow is I/O). The client side is injected."""

from __future__ import annotations

from typing import Any, Protocol

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.inputs import RunLinkInput, SignalInput
from bot.core.commands import CommandKind


class RunControls(Protocol):
    """The runs as the outside reaches them (workflows/client.py's RunClient)."""

    async def signal(self, workflow_id: str, kind: CommandKind, by: str) -> bool:
        """Deliver approve or cancel; False when no run with that id is running."""
        ...

    async def link(self, workflow_id: str) -> str:
        """The run's status comment, or "" when it has none yet (or there is no such run)."""
        ...


class TemporalActivities:
    def __init__(self, runs: RunControls) -> None:
        self.runs = runs

    @activity.defn
    async def signal_run(self, params: SignalInput) -> bool:
        """Signal a running run; False when no run with that id is running."""
        with boundary():
            return await self.runs.signal(params.workflow_id, params.signal, params.by)

    @activity.defn
    async def run_link(self, params: RunLinkInput) -> str:
        """Where a running run shows itself (its plan comment), or "" when it has none yet."""
        with boundary():
            return await self.runs.link(params.workflow_id)

    def activities(self) -> list[Any]:
        return [self.signal_run, self.run_link]

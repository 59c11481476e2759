"""The run's one status comment: posted once the plan exists (once: under the run's key), then
edited in place as the run moves (in order, coalesced, at most every few seconds, and once more
at the end). An edit that fails is logged and the newer text goes out with the next change: the
comment is how the run shows itself, never a reason for it to fail. Workflow code.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import EditInput
    from bot.core.targets import Target
    from bot.workflows import answers, policies
    from bot.workflows.run_state import RunState

EDIT_INTERVAL = timedelta(seconds=3)
KIND = "plan"  # the status comment's kind under the run's key


class StatusComment:
    def __init__(self, state: RunState, target: Target) -> None:
        self.state = state
        self.target = target
        self.comment_id: int | None = None
        self._shown = 0  # the state's change count the comment shows (or will, once edited)
        self._closing = False
        self._failed_at: int | None = None  # the change count whose edit failed
        self._publisher: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._publisher = asyncio.ensure_future(self._publish())

    async def post(self) -> None:
        """Post the comment (the plan is known); its link is where the run shows itself."""
        self._shown = self.state.changes
        posted = await answers.post(self.target, self.state.status_body(), KIND)
        self.comment_id, self.state.progress.link = posted.id, posted.html_url

    async def close(self) -> None:
        """One last edit if the state moved on since the last one, then stop."""
        self._closing = True
        if self._publisher is not None:
            await self._publisher

    def _behind(self) -> bool:
        return self.state.changes != self._shown

    def _due(self) -> bool:
        """Behind, and not only by the change whose edit just failed (the next one retries)."""
        return self._behind() and self.state.changes != self._failed_at

    async def _publish(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._due() or self._closing)
            if self._behind() and self.comment_id is not None:
                changes = self.state.changes
                if await self._edit(self.comment_id):
                    self._shown = changes
                else:
                    self._failed_at = changes
            else:
                self._shown = self.state.changes
            if self._closing and (not self._behind() or self._failed_at == self.state.changes):
                return
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._closing, timeout=EDIT_INTERVAL)

    async def _edit(self, comment_id: int) -> bool:
        """Show the state now; False (logged) when the edit failed after its retries."""
        edit = EditInput(
            target=self.target,
            comment_id=comment_id,
            body=self.state.status_body(),
            key=answers.key(KIND),
        )
        try:
            await policies.call(policies.COSMETIC, ForgeActivities.edit_comment, edit)
        except ActivityError as exc:
            workflow.logger.warning("editing the status comment failed: %s", exc.cause or exc)
            return False
        return True

"""The run's one status comment: posted once the plan exists, then edited in place as the run
moves (in order, coalesced, at most every few seconds, and once more at the end). Workflow code.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import EditInput, PostInput
    from bot.core.targets import Target
    from bot.workflows import policies
    from bot.workflows.run_state import RunState

EDIT_INTERVAL = timedelta(seconds=3)


class StatusComment:
    def __init__(self, state: RunState, target: Target) -> None:
        self.state = state
        self.target = target
        self.comment_id: int | None = None
        self._shown = 0  # the state's change count the comment shows (or will, once edited)
        self._closing = False
        self._publisher: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._publisher = asyncio.ensure_future(self._publish())

    async def post(self) -> None:
        """Post the comment (the plan is known); its link is where the run shows itself."""
        self._shown = self.state.changes
        posted = await policies.call(
            policies.GITHUB,
            ForgeActivities.post_comment,
            PostInput(target=self.target, body=self.state.status_body()),
        )
        self.comment_id, self.state.progress.link = posted.id, posted.html_url

    async def close(self) -> None:
        """One last edit if the state moved on since the last one, then stop."""
        self._closing = True
        if self._publisher is not None:
            await self._publisher

    def _behind(self) -> bool:
        return self.state.changes != self._shown

    async def _publish(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._behind() or self._closing)
            if self._behind() and self.comment_id is not None:
                self._shown = self.state.changes
                edit = EditInput(
                    target=self.target, comment_id=self.comment_id, body=self.state.status_body()
                )
                await policies.call(policies.GITHUB, ForgeActivities.edit_comment, edit)
            else:
                self._shown = self.state.changes
            if self._closing and not self._behind():
                return
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._closing, timeout=EDIT_INTERVAL)

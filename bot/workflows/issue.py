"""The workflow of one issue (or pull request): its run, cancel, cancel-all and approve commands
in the order they were posted, one run at a time (workflows/issue_queue.py has the rules).

A command reaches it by signal-with-start (the command workflow's `enqueue_command` activity),
so the first command starts it and the last one lets it end: it completes when nothing runs and
nothing waits. Each run is a child workflow whose id names its command, so a command runs at
most once; cancelling this workflow cancels the run. The history is bounded by continuing as
new after a number of runs (issue_queue.RUNS_PER_HISTORY).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import (
    ActivityError,
    ChildWorkflowError,
    FailureError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from bot.activities.inputs import RunLinkInput
    from bot.activities.temporal import TemporalActivities
    from bot.core.commands import CommandKind
    from bot.render import messages
    from bot.workflows import answers, policies
    from bot.workflows.issue_queue import (
        Action,
        Answer,
        Forward,
        IssueQueue,
        IssueQueueState,
        Queued,
    )
    from bot.workflows.run import RunWorkflow
    from bot.workflows.shared import (
        CommandRequest,
        RunProgress,
        command_workflow_id,
        run_workflow_id,
    )

# After a cancel, how long the workflow waits for a task posted before it that arrives late
# (a slow webhook delivery), so that the cancel still stops it.
CANCEL_MEMORY = timedelta(minutes=10)


@workflow.defn
class IssueWorkflow:
    @workflow.init
    def __init__(self, carried: IssueQueueState) -> None:
        self.queue = IssueQueue(carried)
        self.runs: dict[int, ChildWorkflowHandle[RunWorkflow, RunProgress]] = {}
        self.started = 0
        # Commands are answered in the order they arrived, though answering one waits on I/O.
        self.answering = asyncio.Lock()

    @workflow.signal
    async def enqueue(self, request: CommandRequest) -> None:
        """A command of this issue. Decided at once, in arrival order; then carried out."""
        actions = self.queue.receive(request)
        async with self.answering:
            for action in actions:
                await self._act(action)

    @workflow.run
    async def run(self, carried: IssueQueueState) -> None:
        while True:
            if self.queue.idle:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self.queue.idle and not await self._late_command():
                    return
                continue
            runs_per_history = self.queue.state.runs_per_history
            if self.started >= runs_per_history or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.queue.state)
            request, dropped = self.queue.start_next()
            for action in dropped:
                await self._act(action)
            if request is not None:
                await self._run(request)
                self.queue.finished()

    async def _late_command(self) -> bool:
        """With a cancel in memory, wait a while for a command that comes late; else none."""
        state = self.queue.state
        if state.cancel is None and state.cancel_all is None:
            return False
        try:
            await workflow.wait_condition(lambda: not self.queue.idle, timeout=CANCEL_MEMORY)
        except TimeoutError:
            return False
        return True

    async def _run(self, request: CommandRequest) -> None:
        """Run the command as a child workflow and wait for it; a run that fails has told its
        user (the run workflow replies or edits its status comment)."""
        try:
            handle = await workflow.start_child_workflow(
                RunWorkflow.run,
                request,
                id=run_workflow_id(request.repo.id, request.issue_number, request.comment_id),
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("the run of comment %s ran already", request.comment_id)
            return
        self.started += 1
        self.runs[request.comment_id] = handle
        try:
            await handle
        except ChildWorkflowError as exc:
            workflow.logger.warning("the run of comment %s ended: %s", request.comment_id, exc)
        finally:
            del self.runs[request.comment_id]

    # -- carrying out the queue's decisions -------------------------------------------------------

    async def _act(self, action: Action) -> None:
        if isinstance(action, Forward):
            await self._forward(action)
        elif isinstance(action, Queued):
            link = await self._running_link()
            await self._answer(
                action.request,
                "queued",
                messages.run_queued(action.request.commenter, action.position, link),
            )
        elif isinstance(action, Answer):
            await self._answer(action.request, action.purpose, action.body)

    async def _forward(self, action: Forward) -> None:
        """Signal the running run once it has started (it may be starting right now)."""
        await workflow.wait_condition(
            lambda: action.run in self.runs or not self._is_running(action.run)
        )
        handle = self.runs.get(action.run)
        if handle is None:
            return
        signal = RunWorkflow.cancel if action.kind is CommandKind.CANCEL else RunWorkflow.approve
        try:
            await handle.signal(signal, action.by)
        except FailureError as exc:  # the run ended in between: nothing left to signal
            workflow.logger.info("signalling the run of %s failed: %s", action.run, exc)

    def _is_running(self, comment_id: int) -> bool:
        running = self.queue.running
        return running is not None and running.comment_id == comment_id

    async def _running_link(self) -> str:
        """The running run's status comment, else its command: always a page a user can open."""
        running = self.queue.running
        if running is None:
            return ""
        if running.comment_id in self.runs:
            run_id = self.runs[running.comment_id].id
            try:
                link = await policies.call(
                    policies.QUERY, TemporalActivities.run_link, RunLinkInput(workflow_id=run_id)
                )
            except ActivityError:
                link = ""
            if link:
                return link
        return running.comment_url

    async def _answer(self, request: CommandRequest, purpose: str, body: str) -> None:
        """Reply to the command, once (under its command workflow's key); a reply that cannot
        be posted is logged: the queue goes on."""
        owner = command_workflow_id(request.repo.id, request.comment_kind, request.comment_id)
        try:
            await answers.reply(request.target, body, f"reply-{purpose}", owner)
        except ActivityError as exc:
            workflow.logger.warning("replying to comment %s failed: %s", request.comment_id, exc)

"""The workflow every `/orchestrate` comment starts: confirm the repository and check permission,
acknowledge, then answer (help, a refusal), start the run, or signal the run on that issue
(approve, cancel)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import (
        PermissionInput,
        PostInput,
        ReactInput,
        RunLinkInput,
        SignalInput,
    )
    from bot.activities.temporal import TemporalActivities
    from bot.core.commands import CommandKind
    from bot.github.models import Reaction
    from bot.render import messages
    from bot.workflows.policies import GITHUB, RUNS, call
    from bot.workflows.run import RunWorkflow
    from bot.workflows.shared import CommandRequest, run_workflow_id

ALLOWED_PERMISSIONS = frozenset({"admin", "maintain", "write"})


@workflow.defn
class CommandWorkflow:
    """One per comment (its id comes from repository and comment): redeliveries are no-ops."""

    @workflow.run
    async def run(self, request: CommandRequest) -> str:
        access = await call(
            GITHUB,
            ForgeActivities.check_permission,
            PermissionInput(target=request.target, username=request.commenter),
        )
        if not access.repository_confirmed:
            # The payload's repository id and name disagree: act on neither (no reaction either,
            # since the comment may not be where the payload says).
            return "repository mismatch"
        if access.permission not in ALLOWED_PERMISSIONS:
            await self._react(request, "confused")
            return "denied"
        await self._react(request, "eyes")
        kind = request.command.kind
        if kind is CommandKind.HELP:
            await self._reply(request, messages.help_text())
            return "help"
        if kind is CommandKind.TOO_LONG:
            await self._reply(request, messages.task_too_long(request.command.task_chars))
            return "refused"
        if kind is CommandKind.RUN:
            return await self._start_run(request)
        return await self._signal_run(request, kind)

    async def _start_run(self, request: CommandRequest) -> str:
        run_id = run_workflow_id(request.repo.id, request.issue_number)
        try:
            await workflow.start_child_workflow(
                RunWorkflow.run,
                request,
                id=run_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            link = await call(RUNS, TemporalActivities.run_link, RunLinkInput(workflow_id=run_id))
            await self._reply(
                request, messages.run_already_going(request.commenter, link or run_id)
            )
            return "already running"
        return "started"

    async def _signal_run(self, request: CommandRequest, signal: CommandKind) -> str:
        delivered = await call(
            RUNS,
            TemporalActivities.signal_run,
            SignalInput(
                workflow_id=run_workflow_id(request.repo.id, request.issue_number),
                signal=signal,
                by=request.commenter,
            ),
        )
        if not delivered:
            await self._reply(request, messages.no_run_to_signal(request.commenter, signal.value))
            return "no run"
        return f"signalled {signal.value}"

    async def _react(self, request: CommandRequest, content: Reaction) -> None:
        await call(
            GITHUB,
            ForgeActivities.react,
            ReactInput(target=request.target, content=content),
        )

    async def _reply(self, request: CommandRequest, body: str) -> None:
        await call(
            GITHUB,
            ForgeActivities.reply,
            PostInput(target=request.target, body=body),
        )

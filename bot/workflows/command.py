"""The workflow every `/orchestrate` comment starts: confirm the repository and check permission,
acknowledge, then answer (help, a refusal) or hand the command to its issue's queue (a task,
cancel, cancel all, approve: workflows/issue.py orders them)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import EnqueueInput, PermissionInput
    from bot.activities.temporal import TemporalActivities
    from bot.core.commands import CommandKind
    from bot.render import messages
    from bot.workflows import answers
    from bot.workflows.policies import GITHUB, RUNS, call
    from bot.workflows.shared import CommandRequest

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
            await answers.react(request.target, "confused")
            return "denied"
        await answers.react(request.target, "eyes")
        kind = request.command.kind
        if kind is CommandKind.HELP:
            await answers.reply(request.target, messages.help_text(), "reply-help")
            return "help"
        if kind is CommandKind.TOO_LONG:
            text = messages.task_too_long(request.command.task_chars)
            await answers.reply(request.target, text, "reply-too-long")
            return "refused"
        # The queue dedupes by comment id: a retry after a lost answer enqueues nothing twice.
        enqueue = EnqueueInput(request=request.model_dump(mode="json"))
        await call(RUNS, TemporalActivities.enqueue_command, enqueue)
        return f"queued {kind.value}"

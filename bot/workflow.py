"""The run workflow: one per issue at a time, started by a `/orchestrate <task>` command."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bot import render
    from bot.activities import GitHubActivities, ReplyInput
    from bot.calls import github_call
    from bot.shared import CommandRequest


@workflow.defn
class RunWorkflow:
    def __init__(self) -> None:
        self._link = ""
        self._cancelled_by: str | None = None
        self._approved_by: str | None = None

    @workflow.run
    async def run(self, request: CommandRequest) -> str:
        task = request.command.task or request.issue_title
        posted = await github_call(
            GitHubActivities.reply,
            ReplyInput(
                installation_id=request.installation_id,
                repo=request.repo,
                issue_number=request.issue_number,
                comment_kind=request.comment_kind,
                comment_id=request.comment_id,
                body=render.run_accepted(request.commenter, render.one_line(task)),
            ),
        )
        self._link = posted.html_url
        return "accepted"

    @workflow.query
    def link(self) -> str:
        return self._link

    @workflow.signal
    def approve(self, by: str) -> None:
        self._approved_by = by

    @workflow.signal
    def cancel(self, by: str) -> None:
        self._cancelled_by = by

"""What the webhook side, the workflows and `bot run` share: the command request, the run's
progress, and the workflow ids that make webhook handling idempotent."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.core.commands import Command
from bot.core.results import AgentLine, TestRound
from bot.core.targets import CommentKind, RepoRef, Target
from bot.render import states


class CommandRequest(BaseModel, frozen=True):
    """One `/orchestrate` comment, as the webhook saw it. Everything after this is a workflow."""

    delivery_id: str
    installation_id: int
    repo: RepoRef
    issue_number: int
    is_pull_request: bool
    issue_title: str
    issue_body: str
    comment_id: int
    comment_kind: CommentKind
    commenter: str
    command: Command
    # The command comment's page (GitHub's html_url, checked against the payload): what a
    # reply links when the run it names has no status comment yet.
    comment_url: str = ""
    # Review-thread context (follow-ups on a pull request the app opened).
    review_path: str | None = None
    review_line: int | None = None
    review_diff_hunk: str | None = None

    @property
    def target(self) -> Target:
        return Target(
            installation_id=self.installation_id,
            repo=self.repo,
            issue_number=self.issue_number,
            comment_kind=self.comment_kind,
            comment_id=self.comment_id,
        )


class RunProgress(BaseModel):
    """What `bot run` and the `/orchestrate` link show about a run while it goes."""

    state: str = states.PLANNING
    link: str = ""
    lines: dict[str, AgentLine] = Field(default_factory=dict)
    rounds: list[TestRound] = Field(default_factory=list)
    pr_url: str = ""
    environment: str = ""  # e.g. "built in 41 s" (render/environment.py)


def command_workflow_id(repo_id: int, comment_kind: CommentKind, comment_id: int) -> str:
    """One workflow per comment: a redelivered webhook maps to the same id and starts nothing."""
    return f"orchestrate-cmd-{repo_id}-{comment_kind.value}-{comment_id}"


def issue_workflow_id(repo_id: int, issue_number: int) -> str:
    """One queue of commands per issue or pull request (they share the number space)."""
    return f"orchestrate-issue-{repo_id}-{issue_number}"


def run_workflow_id(repo_id: int, issue_number: int, comment_id: int) -> str:
    """The run of one command: the issue's queue starts it at most once."""
    return f"orchestrate-run-{repo_id}-{issue_number}-{comment_id}"

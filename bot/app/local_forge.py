"""The forge of `bot run`: the repository's own directory is the remote, and what a run would
post on GitHub goes to the terminal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.remote import Remote
from bot.core.targets import CommentKey, Target
from bot.git.run import run_git
from bot.github.models import Comment, FollowUp, PullRequest, Reaction, RepositoryAccess
from bot.render import messages


@dataclass
class LocalForge:
    """`bot run`: the repository's own directory is the remote; output goes to the terminal."""

    repo: Path
    emit: Callable[[str, str], None] = field(default=lambda kind, text: print(text))
    comments: dict[int, str] = field(default_factory=dict)
    pull_bodies: list[str] = field(default_factory=list)

    async def access(self, target: Target, username: str) -> RepositoryAccess:
        return RepositoryAccess(repository_confirmed=True, permission="admin")  # the owner's run

    async def remote(self, target: Target) -> Remote:
        path = str(self.repo.resolve())
        return Remote(path, None, scope=f"local/{path}")

    async def default_branch(self, target: Target) -> str:
        result = await run_git(["symbolic-ref", "--short", "HEAD"], cwd=self.repo)
        return result.stdout.strip()

    async def post_comment(
        self, target: Target, body: str, key: CommentKey | None = None
    ) -> Comment:
        comment_id = len(self.comments) + 1
        self.comments[comment_id] = body
        self.emit("comment", body)
        return Comment(id=comment_id, html_url=f"local comment {comment_id}")

    async def edit_comment(
        self, target: Target, comment_id: int, body: str, key: CommentKey | None = None
    ) -> None:
        self.comments[comment_id] = body

    async def react(self, target: Target, content: Reaction) -> None:
        return None

    async def reply(self, target: Target, body: str, key: CommentKey | None = None) -> None:
        self.emit("reply", body)

    async def follow_up(self, target: Target) -> FollowUp:
        return FollowUp(refusal=messages.no_follow_up_locally())

    async def open_pull(
        self, target: Target, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        self.pull_bodies.append(body)
        self.emit("pull", body)
        return PullRequest(number=len(self.pull_bodies), html_url=f"branch {head}", draft=draft)

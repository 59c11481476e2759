"""The one activity set for where a run lives: GitHub, or the local forge of `bot run`. Thin
adapters over the `Forge` protocol, each inside the error boundary."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.inputs import (
    EditInput,
    PermissionInput,
    PostInput,
    PullInput,
    ReactInput,
    TargetInput,
)
from bot.github.forge import Forge
from bot.github.models import Comment, FollowUp, PullRequest, RepositoryAccess


class ForgeActivities:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    @activity.defn
    async def check_permission(self, params: PermissionInput) -> RepositoryAccess:
        """Confirm the command's repository, then read the commenter's role there."""
        with boundary():
            return await self.forge.access(params.target, params.username)

    @activity.defn
    async def react(self, params: ReactInput) -> None:
        with boundary():
            await self.forge.react(params.target, params.content)

    @activity.defn
    async def reply(self, params: PostInput) -> None:
        """Answer a command where it was written: in the issue, or in the review thread (once
        under the input's key)."""
        with boundary():
            await self.forge.reply(params.target, params.body, params.key)

    @activity.defn
    async def post_comment(self, params: PostInput) -> Comment:
        """Post in the conversation, or find what an earlier attempt posted under the key."""
        with boundary():
            return await self.forge.post_comment(params.target, params.body, params.key)

    @activity.defn
    async def edit_comment(self, params: EditInput) -> None:
        with boundary():
            await self.forge.edit_comment(params.target, params.comment_id, params.body, params.key)

    @activity.defn
    async def follow_up(self, params: TargetInput) -> FollowUp:
        with boundary():
            return await self.forge.follow_up(params.target)

    @activity.defn
    async def open_pull(self, params: PullInput) -> PullRequest:
        with boundary():
            return await self.forge.open_pull(
                params.target,
                head=params.head,
                base=params.base,
                title=params.title,
                body=params.body,
                draft=params.draft,
            )

    def activities(self) -> list[Any]:
        return [
            self.check_permission,
            self.react,
            self.reply,
            self.post_comment,
            self.edit_comment,
            self.follow_up,
            self.open_pull,
        ]

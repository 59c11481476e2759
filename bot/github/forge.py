"""Where a run lives: GitHub (an installation of the app), or a local repository (`bot run`,
app/local_forge.py).

The run workflow is the same for both; its activities talk to a `Forge`, and each worker is
built with one. A forge hands out the git remote and its credential inside activities only, so
no token ever enters workflow history.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Protocol

from bot.core.decisions import is_own_branch
from bot.core.remote import Remote
from bot.core.targets import CommentKey, CommentKind, Target
from bot.errors import GitHubError
from bot.github.app import GitHubApp
from bot.github.models import (
    Comment,
    FollowUp,
    PostedComment,
    PullRequest,
    Reaction,
    RepositoryAccess,
)
from bot.github.rest import Installation
from bot.render import messages
from bot.render.markers import carries, marked

log = logging.getLogger(__name__)


class Forge(Protocol):
    async def access(self, target: Target, username: str) -> RepositoryAccess: ...
    async def remote(self, target: Target) -> Remote: ...
    async def default_branch(self, target: Target) -> str: ...
    async def post_comment(
        self, target: Target, body: str, key: CommentKey | None = None
    ) -> Comment: ...
    async def edit_comment(
        self, target: Target, comment_id: int, body: str, key: CommentKey | None = None
    ) -> None: ...
    async def react(self, target: Target, content: Reaction) -> None: ...
    async def reply(self, target: Target, body: str, key: CommentKey | None = None) -> None: ...
    async def follow_up(self, target: Target) -> FollowUp: ...
    async def open_pull(
        self, target: Target, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest: ...


def _since(key: CommentKey) -> datetime | None:
    return datetime.fromisoformat(key.since) if key.since else None


async def _opened_meanwhile(
    gh: Installation, owner: str, name: str, head: str, exc: GitHubError
) -> PullRequest:
    """After a refused create: the branch's open pull request when GitHub said one exists;
    else the refusal, as the run's error."""
    if exc.status == 422 and "already exists" in str(exc):
        found = await gh.find_open_pull(owner, name, head)
        if found is not None:
            return found
    raise GitHubError(
        f"opening the pull request failed: {exc}", exc.status, retry_after=exc.retry_after
    ) from exc


def git_base_url(api_url: str) -> str:
    """Where git smart HTTP lives for a REST API root (github.com, GHES, or an emulator)."""
    api_url = api_url.rstrip("/")
    if api_url == "https://api.github.com":
        return "https://github.com"
    if api_url.endswith("/api/v3"):
        return api_url.removesuffix("/api/v3")
    return api_url


class GitHubForge:
    def __init__(self, app: GitHubApp, git_url: str | None = None) -> None:
        self.app = app
        self.git_url = (git_url or git_base_url(app.api_url)).rstrip("/")

    async def access(self, target: Target, username: str) -> RepositoryAccess:
        """Confirm the repository id is the repository named, then read the commenter's role."""
        gh = await self.app.installation(target.installation_id)
        repo = target.repo
        seen_id = await gh.repository_id(repo.owner, repo.name)
        if seen_id != repo.id:
            log.warning(
                "command refused: %s is repository %s to installation %s, not %s",
                repo.full_name,
                seen_id,
                target.installation_id,
                repo.id,
            )
            return RepositoryAccess(repository_confirmed=False)
        permission = await gh.permission(repo.owner, repo.name, username)
        return RepositoryAccess(repository_confirmed=True, permission=permission)

    async def remote(self, target: Target) -> Remote:
        """The repository's URL with a token for that repository alone; its mirror is private
        to this installation and repository."""
        installation, repo = target.installation_id, target.repo
        token = await self.app.installation_token(installation, repository_id=repo.id)
        url = f"{self.git_url}/{repo.owner}/{repo.name}.git"
        return Remote(url, token, scope=f"github/{installation}/{repo.id}")

    async def default_branch(self, target: Target) -> str:
        gh = await self.app.installation(target.installation_id)
        return await gh.default_branch(target.repo.owner, target.repo.name)

    async def post_comment(
        self, target: Target, body: str, key: CommentKey | None = None
    ) -> Comment:
        """Post in the conversation; with `key`, find the comment an earlier attempt posted
        (its marker) and return that one instead."""
        gh = await self.app.installation(target.installation_id)
        owner, name, number = target.repo.owner, target.repo.name, target.issue_number
        if key is None:
            return await gh.create_comment(owner, name, number, body)
        found = await self._find(gh.issue_comments(owner, name, number, _since(key)), key)
        if found is not None:
            return found
        return await gh.create_comment(owner, name, number, marked(key, body))

    async def edit_comment(
        self, target: Target, comment_id: int, body: str, key: CommentKey | None = None
    ) -> None:
        """Replace a comment's text (keeping its marker, so it stays findable)."""
        gh = await self.app.installation(target.installation_id)
        text = body if key is None else marked(key, body)
        await gh.update_comment(target.repo.owner, target.repo.name, comment_id, text)

    async def react(self, target: Target, content: Reaction) -> None:
        gh = await self.app.installation(target.installation_id)
        owner, name = target.repo.owner, target.repo.name
        if target.comment_kind is CommentKind.REVIEW:
            await gh.react_to_review_comment(owner, name, target.comment_id, content)
        else:
            await gh.react_to_issue_comment(owner, name, target.comment_id, content)

    async def reply(self, target: Target, body: str, key: CommentKey | None = None) -> None:
        """Answer where the command was written: in its review thread, or the conversation;
        with `key`, only when no earlier attempt did."""
        if target.comment_kind is not CommentKind.REVIEW:
            await self.post_comment(target, body, key)
            return
        gh = await self.app.installation(target.installation_id)
        owner, name, number = target.repo.owner, target.repo.name, target.issue_number
        if key is not None:
            listed = gh.review_comments(owner, name, number, _since(key))
            if await self._find(listed, key) is not None:
                return
            body = marked(key, body)
        await gh.reply_to_review_comment(owner, name, number, target.comment_id, body)

    async def _find(
        self, listing: Awaitable[list[PostedComment]], key: CommentKey
    ) -> Comment | None:
        """The app's own comment carrying the marker of `key` (a person's copy of a marker is
        not ours), or None."""
        comments = await listing
        ours = await self.app.bot_login()
        for comment in comments:
            if comment.author == ours and carries(comment.body, key):
                return Comment(id=comment.id, html_url=comment.html_url)
        return None

    async def follow_up(self, target: Target) -> FollowUp:
        """A follow-up works on the branch of a pull request this app opened, and only there."""
        gh = await self.app.installation(target.installation_id)
        pull = await gh.pull_branches(target.repo.owner, target.repo.name, target.issue_number)
        ours = (
            pull.author == await self.app.bot_login()
            and not pull.head_is_fork
            and is_own_branch(pull.head)
        )
        if not ours:
            return FollowUp(refusal=messages.follow_up_not_ours())
        if not pull.open:
            return FollowUp(refusal=messages.follow_up_closed())
        return FollowUp(branch=pull.head, base=pull.base)

    async def open_pull(
        self, target: Target, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        """Open the run's pull request, or refresh the body of the one already open."""
        gh = await self.app.installation(target.installation_id)
        owner, name = target.repo.owner, target.repo.name
        existing = await gh.find_open_pull(owner, name, head)
        if existing is None:
            try:
                return await gh.create_pull(
                    owner, name, title=title, head=head, base=base, body=body, draft=draft
                )
            except GitHubError as exc:
                # An earlier attempt (whose answer was lost) or a racing one opened it.
                existing = await _opened_meanwhile(gh, owner, name, head, exc)
        await gh.update_pull(owner, name, existing.number, body=body)
        return existing

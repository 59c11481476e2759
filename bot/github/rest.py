"""GitHub's REST API as one installation of the app sees it: the handful of calls the app makes
(githubkit), each error mapped to GitHubError without any credential. githubkit's own retries
are off: Temporal owns retries.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from githubkit import GitHub
from githubkit.exception import GitHubException, RequestFailed, RequestTimeout

from bot.core.ratelimits import MAX_RETRY_DELAY_S, github_retry_delay
from bot.errors import GitHubError
from bot.github.models import Comment, PostedComment, PullBranches, PullRequest, Reaction

T = TypeVar("T")
PAGE_SIZE = 100
# A listing stops here: more comments than this since a run began is no conversation we serve.
MAX_PAGES = 30


async def call(what: str, request: Awaitable[T]) -> T:
    """Await a githubkit call, mapping its errors to GitHubError (without any credential)."""
    try:
        return await request
    except RequestFailed as exc:
        raise failed(what, exc) from exc
    except RequestTimeout as exc:
        raise GitHubError(f"{what}: timed out") from exc
    except GitHubException as exc:
        raise GitHubError(f"{what}: {type(exc).__name__}") from exc


def failed(what: str, exc: RequestFailed) -> GitHubError:
    """The GitHubError of an error answer: a rate limit carries how long GitHub asked us to
    wait; any other 403 says what was refused (no wait cures a missing permission)."""
    response = exc.response
    status = response.status_code
    try:
        message = _error_message(response.json())
    except ValueError:
        message = response.text[:200]
    headers = dict(response.headers.items())
    delay = github_retry_delay(status, headers, message, time.time(), maximum=MAX_RETRY_DELAY_S)
    if delay is not None:
        text = f"{what}: rate limited by GitHub (HTTP {status}), retry in {delay:.0f}s"
        return GitHubError(text, status, retry_after=delay)
    if status == 403:
        said = f": {message}" if message else ""
        text = (
            f"{what}: refused by GitHub (HTTP 403{said}). The app's installation lacks a "
            "permission for this, or the repository does not allow it."
        )
        return GitHubError(text, status)
    return GitHubError(f"{what}: HTTP {status} {message}".strip(), status)


def _error_message(body: Any) -> str:
    """GitHub's error message, with the details of a 422 ("Validation Failed": the custom
    messages say why, e.g. "A pull request already exists for …")."""
    if not isinstance(body, dict):
        return ""
    message = str(body.get("message", ""))
    errors = body.get("errors")
    details = [
        str(error["message"])
        for error in (errors if isinstance(errors, list) else [])
        if isinstance(error, dict) and isinstance(error.get("message"), str)
    ]
    return f"{message}: {'; '.join(details)}" if details else message


class Installation:
    """REST calls made as one installation of the app."""

    def __init__(self, client: GitHub[Any]) -> None:
        self._gh = client

    async def permission(self, owner: str, repo: str, username: str) -> str:
        """`admin`, `maintain`, `write`, `triage`, `read` or `none`."""
        try:
            response = await call(
                "read collaborator permission",
                self._gh.rest.repos.async_get_collaborator_permission_level(owner, repo, username),
            )
        except GitHubError as exc:
            if exc.status == 404:  # not a collaborator (or no such user)
                return "none"
            raise
        data = response.parsed_data
        role = data.role_name if isinstance(data.role_name, str) else ""
        # role_name carries "maintain"/"triage", which the legacy `permission` field folds away.
        return role if role in {"admin", "maintain", "write", "triage", "read"} else data.permission

    async def react_to_issue_comment(
        self, owner: str, repo: str, comment_id: int, content: Reaction
    ) -> None:
        await call(
            f"add {content} reaction",
            self._gh.rest.reactions.async_create_for_issue_comment(
                owner, repo, comment_id, content=content
            ),
        )

    async def react_to_review_comment(
        self, owner: str, repo: str, comment_id: int, content: Reaction
    ) -> None:
        await call(
            f"add {content} reaction",
            self._gh.rest.reactions.async_create_for_pull_request_review_comment(
                owner, repo, comment_id, content=content
            ),
        )

    async def create_comment(self, owner: str, repo: str, issue_number: int, body: str) -> Comment:
        response = await call(
            "create comment",
            self._gh.rest.issues.async_create_comment(owner, repo, issue_number, body=body),
        )
        return Comment(id=response.parsed_data.id, html_url=response.parsed_data.html_url)

    async def update_comment(self, owner: str, repo: str, comment_id: int, body: str) -> None:
        await call(
            "update comment",
            self._gh.rest.issues.async_update_comment(owner, repo, comment_id, body=body),
        )

    async def reply_to_review_comment(
        self, owner: str, repo: str, pull_number: int, comment_id: int, body: str
    ) -> Comment:
        response = await call(
            "reply in review thread",
            self._gh.rest.pulls.async_create_reply_for_review_comment(
                owner, repo, pull_number, comment_id, body=body
            ),
        )
        return Comment(id=response.parsed_data.id, html_url=response.parsed_data.html_url)

    async def issue_comments(
        self, owner: str, repo: str, number: int, since: datetime | None
    ) -> list[PostedComment]:
        """The conversation's comments updated at or after `since` (every one with None)."""
        list_page = self._gh.rest.issues.async_list_comments

        def page(number_: int) -> Awaitable[Any]:
            if since is None:
                return list_page(owner, repo, number, per_page=PAGE_SIZE, page=number_)
            return list_page(owner, repo, number, since=since, per_page=PAGE_SIZE, page=number_)

        return await _all_pages("list comments", page)

    async def review_comments(
        self, owner: str, repo: str, pull_number: int, since: datetime | None
    ) -> list[PostedComment]:
        """The pull request's review comments (replies included) updated at or after `since`."""
        list_page = self._gh.rest.pulls.async_list_review_comments

        def page(number_: int) -> Awaitable[Any]:
            if since is None:
                return list_page(owner, repo, pull_number, per_page=PAGE_SIZE, page=number_)
            return list_page(
                owner, repo, pull_number, since=since, per_page=PAGE_SIZE, page=number_
            )

        return await _all_pages("list review comments", page)

    async def repository_id(self, owner: str, repo: str) -> int | None:
        """The id of `owner/repo`, or None when this installation cannot see such a repository."""
        try:
            response = await call("read repository", self._gh.rest.repos.async_get(owner, repo))
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return response.parsed_data.id

    async def default_branch(self, owner: str, repo: str) -> str:
        response = await call("read repository", self._gh.rest.repos.async_get(owner, repo))
        return response.parsed_data.default_branch

    async def pull_branches(self, owner: str, repo: str, number: int) -> PullBranches:
        response = await call(
            f"read pull request #{number}", self._gh.rest.pulls.async_get(owner, repo, number)
        )
        pull = response.parsed_data
        head_repo = pull.head.repo.full_name if pull.head.repo else ""
        return PullBranches(
            head=pull.head.ref,
            base=pull.base.ref,
            head_is_fork=head_repo != f"{owner}/{repo}",
            author=pull.user.login if pull.user else "",
            open=pull.state == "open",
        )

    async def find_open_pull(self, owner: str, repo: str, branch: str) -> PullRequest | None:
        response = await call(
            "list pull requests",
            self._gh.rest.pulls.async_list(owner, repo, head=f"{owner}:{branch}", state="open"),
        )
        pulls: list[Any] = list(response.parsed_data)  # githubkit types this list oddly
        if not pulls:
            return None
        return PullRequest(
            number=pulls[0].number, html_url=pulls[0].html_url, draft=bool(pulls[0].draft)
        )

    async def create_pull(
        self, owner: str, repo: str, *, title: str, head: str, base: str, body: str, draft: bool
    ) -> PullRequest:
        response = await call(
            "create pull request",
            self._gh.rest.pulls.async_create(
                owner, repo, title=title, head=head, base=base, body=body, draft=draft
            ),
        )
        pull = response.parsed_data
        return PullRequest(number=pull.number, html_url=pull.html_url, draft=bool(pull.draft))

    async def update_pull(self, owner: str, repo: str, number: int, *, body: str) -> None:
        await call(
            "update pull request",
            self._gh.rest.pulls.async_update(owner, repo, number, body=body),
        )


async def _all_pages(what: str, page: Callable[[int], Awaitable[Any]]) -> list[PostedComment]:
    """Every comment of a listing, page after page until a short one (or MAX_PAGES)."""
    found: list[PostedComment] = []
    for number in range(1, MAX_PAGES + 1):
        response = await call(what, page(number))
        items: list[Any] = list(response.parsed_data)
        found += [
            PostedComment(
                id=item.id,
                html_url=item.html_url,
                author=item.user.login if item.user else "",
                body=item.body if isinstance(item.body, str) else "",
            )
            for item in items
        ]
        if len(items) < PAGE_SIZE:
            break
    return found

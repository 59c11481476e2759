"""GitHub's REST API as one installation of the app sees it: the handful of calls the app makes
(githubkit), each error mapped to GitHubError without any credential. githubkit's own retries
are off: Temporal owns retries.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from githubkit import GitHub
from githubkit.exception import GitHubException, RequestFailed, RequestTimeout

from bot.errors import GitHubError
from bot.github.models import Comment, PullBranches, PullRequest, Reaction

T = TypeVar("T")


async def call(what: str, request: Awaitable[T]) -> T:
    """Await a githubkit call, mapping its errors to GitHubError (without any credential)."""
    try:
        return await request
    except RequestFailed as exc:
        status = exc.response.status_code
        message = ""
        try:
            message = str(exc.response.json().get("message", ""))
        except ValueError:
            message = exc.response.text[:200]
        raise GitHubError(f"{what}: HTTP {status} {message}".strip(), status) from exc
    except RequestTimeout as exc:
        raise GitHubError(f"{what}: timed out") from exc
    except GitHubException as exc:
        raise GitHubError(f"{what}: {type(exc).__name__}") from exc


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

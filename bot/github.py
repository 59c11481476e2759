"""The one place that talks to GitHub's REST API (githubkit).

App JWT auth, installation tokens (for git: scoped to one repository) cached per installation
and repository and refreshed before expiry, and the handful of calls the app makes. githubkit's
own retries are off: Temporal owns retries.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestFailed, RequestTimeout

from bot.errors import GitHubError

Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
T = TypeVar("T")
# Refresh a token this long before GitHub says it expires (tokens live one hour).
TOKEN_REFRESH_MARGIN_S = 300.0
USER_AGENT = "orchestrate-bot"


@dataclass(frozen=True)
class PostedComment:
    id: int
    html_url: str


@dataclass(frozen=True)
class PullRequest:
    number: int
    html_url: str
    draft: bool


@dataclass(frozen=True)
class PullBranches:
    head: str
    base: str
    head_is_fork: bool
    author: str
    open: bool


@dataclass
class _CachedToken:
    token: str
    expires_at: float  # epoch seconds


async def _call(what: str, request: Awaitable[T]) -> T:
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


class GitHubApp:
    """A GitHub App: signs JWTs, mints installation tokens, hands out installation clients."""

    def __init__(
        self, app_id: int, private_key_pem: str, api_url: str, *, timeout: float = 30.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._app = GitHub(
            AppAuthStrategy(app_id, private_key_pem),
            base_url=self.api_url,
            user_agent=USER_AGENT,
            timeout=timeout,
            cache_strategy=MemCacheStrategy(),
            http_cache=False,
            auto_retry=False,
        )
        self._tokens: dict[tuple[int, int | None], _CachedToken] = {}
        self._lock = asyncio.Lock()
        self._clock: Callable[[], float] = time.time
        self._slug: str | None = None

    async def installation_token(
        self, installation_id: int, *, repository_id: int | None = None
    ) -> str:
        """A token for the installation, minted once and reused until shortly before expiry.

        With `repository_id`, GitHub limits the token to that one repository: a token that
        leaked from one run's git commands reaches no other repository of the installation.
        """
        key = (installation_id, repository_id)
        async with self._lock:
            cached = self._tokens.get(key)
            if cached and cached.expires_at - TOKEN_REFRESH_MARGIN_S > self._clock():
                return cached.token
            create = self._app.rest.apps.async_create_installation_access_token
            request = (
                create(installation_id)
                if repository_id is None
                else create(installation_id, repository_ids=[repository_id])
            )
            response = await _call("create installation token", request)
            data = response.parsed_data
            expires_at = datetime.fromisoformat(data.expires_at.replace("Z", "+00:00"))
            self._tokens[key] = _CachedToken(data.token, expires_at.timestamp())
            return data.token

    async def bot_login(self) -> str:
        """The login the app's own comments and pull requests carry: `<slug>[bot]`."""
        if self._slug is None:
            response = await _call("read the app", self._app.rest.apps.async_get_authenticated())
            app = response.parsed_data
            if app is None or not app.slug:
                raise GitHubError("read the app: no slug in the answer")
            self._slug = app.slug
        return f"{self._slug}[bot]"

    async def installation(self, installation_id: int) -> Installation:
        token = await self.installation_token(installation_id)
        client = GitHub(
            TokenAuthStrategy(token),
            base_url=self.api_url,
            user_agent=USER_AGENT,
            timeout=self._timeout,
            cache_strategy=MemCacheStrategy(),
            http_cache=False,
            auto_retry=False,
        )
        return Installation(client)


class Installation:
    """REST calls made as one installation of the app."""

    def __init__(self, client: GitHub[Any]) -> None:
        self._gh = client

    async def permission(self, owner: str, repo: str, username: str) -> str:
        """`admin`, `maintain`, `write`, `triage`, `read` or `none`."""
        try:
            response = await _call(
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
        await _call(
            f"add {content} reaction",
            self._gh.rest.reactions.async_create_for_issue_comment(
                owner, repo, comment_id, content=content
            ),
        )

    async def react_to_review_comment(
        self, owner: str, repo: str, comment_id: int, content: Reaction
    ) -> None:
        await _call(
            f"add {content} reaction",
            self._gh.rest.reactions.async_create_for_pull_request_review_comment(
                owner, repo, comment_id, content=content
            ),
        )

    async def create_comment(
        self, owner: str, repo: str, issue_number: int, body: str
    ) -> PostedComment:
        response = await _call(
            "create comment",
            self._gh.rest.issues.async_create_comment(owner, repo, issue_number, body=body),
        )
        return PostedComment(response.parsed_data.id, response.parsed_data.html_url)

    async def update_comment(self, owner: str, repo: str, comment_id: int, body: str) -> None:
        await _call(
            "update comment",
            self._gh.rest.issues.async_update_comment(owner, repo, comment_id, body=body),
        )

    async def reply_to_review_comment(
        self, owner: str, repo: str, pull_number: int, comment_id: int, body: str
    ) -> PostedComment:
        response = await _call(
            "reply in review thread",
            self._gh.rest.pulls.async_create_reply_for_review_comment(
                owner, repo, pull_number, comment_id, body=body
            ),
        )
        return PostedComment(response.parsed_data.id, response.parsed_data.html_url)

    async def repository_id(self, owner: str, repo: str) -> int | None:
        """The id of `owner/repo`, or None when this installation cannot see such a repository."""
        try:
            response = await _call("read repository", self._gh.rest.repos.async_get(owner, repo))
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return response.parsed_data.id

    async def default_branch(self, owner: str, repo: str) -> str:
        response = await _call("read repository", self._gh.rest.repos.async_get(owner, repo))
        return response.parsed_data.default_branch

    async def file_text(self, owner: str, repo: str, path: str, ref: str) -> str | None:
        """A file's text at `ref`, or None when it does not exist."""
        try:
            response = await _call(
                f"read {path}",
                self._gh.rest.repos.async_get_content(owner, repo, path, ref=ref),
            )
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        data = response.parsed_data
        content = getattr(data, "content", None)
        if not isinstance(content, str):
            raise GitHubError(f"read {path}: not a file")
        return base64.b64decode(content).decode("utf-8", errors="replace")

    async def pull_branches(self, owner: str, repo: str, number: int) -> PullBranches:
        response = await _call(
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
        response = await _call(
            "list pull requests",
            self._gh.rest.pulls.async_list(owner, repo, head=f"{owner}:{branch}", state="open"),
        )
        pulls: list[Any] = list(response.parsed_data)  # githubkit types this list oddly
        if not pulls:
            return None
        return PullRequest(pulls[0].number, pulls[0].html_url, bool(pulls[0].draft))

    async def create_pull(
        self, owner: str, repo: str, *, title: str, head: str, base: str, body: str, draft: bool
    ) -> PullRequest:
        response = await _call(
            "create pull request",
            self._gh.rest.pulls.async_create(
                owner, repo, title=title, head=head, base=base, body=body, draft=draft
            ),
        )
        pull = response.parsed_data
        return PullRequest(pull.number, pull.html_url, bool(pull.draft))

    async def update_pull(self, owner: str, repo: str, number: int, *, body: str) -> None:
        await _call(
            "update pull request",
            self._gh.rest.pulls.async_update(owner, repo, number, body=body),
        )

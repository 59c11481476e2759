"""FakeHub: the GitHub emulator's public face, and the uvicorn server thread it runs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import Scope

from tests.support.connection import abort_connection

from . import gitrepo
from .auth import TOKEN_LIFETIME, generate_key, issue_token
from .fault_methods import FaultMethods
from .faults import CUTS, Fault, Faults
from .hooks import Hooks
from .rest import build_app
from .shapes import AppInfo, Shapes
from .state import (
    PERMISSIONS,
    Comment,
    HubState,
    Installation,
    Issue,
    PullRequest,
    RepoState,
    ReviewComment,
)

DEFAULT_PERMISSIONS = {
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "metadata": "read",
}


class FakeHub(FaultMethods):
    def __init__(self, root: Path, *, app_id: int = 4242, app_slug: str = "orchestrate") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.app_id = app_id
        self.private_key_pem, self.public_key = generate_key()
        self.webhook_secret = secrets.token_hex(20)
        self.app_info = AppInfo(
            app_id, app_slug, "Orchestrate", "orchestrate-dev", DEFAULT_PERMISSIONS
        )
        self.state = HubState()
        self.faults = Faults()
        self.hooks = Hooks()
        self.base_url = ""
        self.shapes = Shapes(self.base_url, self.state, self.app_info)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._push_locks: dict[str, asyncio.Lock] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (no 40 ms Nagle stalls).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.shapes.base = self.base_url
        config = uvicorn.Config(
            build_app(self), log_level="warning", access_log=False, lifespan="off", ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fakehub", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fakehub did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FakeHub:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- identities and credentials ----------------------------------------------------------

    @property
    def bot_login(self) -> str:
        """The login GitHub shows for the app's own actions: `<slug>[bot]`."""
        return self.app_info.bot_login

    def issue_token(
        self,
        installation_id: int = 1,
        lifetime: timedelta = TOKEN_LIFETIME,
        *,
        repository_ids: set[int] | None = None,
    ) -> str:
        """An installation token, as if the app had asked for one (no JWT round trip);
        with `repository_ids`, good for those repositories only."""
        scope = frozenset(repository_ids) if repository_ids is not None else None
        return issue_token(self.state, installation_id, lifetime, scope).token

    def token_scope(self, token: str) -> frozenset[int] | None:
        """The repository ids a token was limited to (None: the whole installation)."""
        with self.state.lock:
            return self.state.issued_tokens[token].repository_ids

    def expire_token(self, token: str) -> None:
        with self.state.lock:
            self.state.issued_tokens[token].expires_at = datetime.now(UTC) - timedelta(seconds=1)

    def set_installation_permission(self, installation_id: int, name: str, level: str) -> None:
        """E.g. ("workflows", "write") lets pushes touch .github/workflows/."""
        with self.state.lock:
            self.state.installations[installation_id].permissions[name] = level

    @staticmethod
    def git_auth_env(token: str) -> dict[str, str]:
        """The environment that makes `git` send the token, as the bot does."""
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }

    def sign_webhook(self, body: bytes) -> str:
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    def webhook_headers(self, event: str, body: bytes) -> dict[str, str]:
        return {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-ID": str(self.app_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-Hub-Signature-256": self.sign_webhook(body),
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fakehub",
        }

    # -- repositories --------------------------------------------------------------------------

    def git_url(self, owner: str, repo: str) -> str:
        return f"{self.base_url}/{owner}/{repo}.git"

    def bare_path(self, owner: str, repo: str) -> Path:
        return self.root / owner / f"{repo}.git"

    def repo(self, owner: str, repo: str) -> RepoState:
        with self.state.lock:
            return self.state.repos[(owner, repo)]

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        files: dict[str, str] | None = None,
        default_branch: str = "main",
        installation_id: int = 1,
        private: bool = False,
    ) -> RepoState:
        """A bare repository with one initial commit of `files` (default: a README.md)."""
        bare = self.bare_path(owner, name)
        gitrepo.init_bare(bare, default_branch)
        initial = files if files is not None else {"README.md": f"# {name}\n"}
        gitrepo.commit_files(bare, default_branch, initial, "Initial commit")
        repo = RepoState(
            owner, name, self.state.next_id(), default_branch, installation_id, private, bare
        )
        with self.state.lock:
            self.state.installations.setdefault(
                installation_id, Installation(installation_id, owner, dict(DEFAULT_PERMISSIONS))
            )
            self.state.repos[repo.key] = repo
            self.state.issues.setdefault(repo.key, {})
            self.state.pulls.setdefault(repo.key, {})
        return repo

    def commit(
        self,
        owner: str,
        repo: str,
        branch: str,
        files: dict[str, str | None],
        message: str = "Upstream change",
    ) -> str:
        """Commit on the hub side (someone else's push; not recorded in `pushes`). A new branch
        starts at the default branch."""
        start = f"refs/heads/{self.repo(owner, repo).default_branch}"
        return gitrepo.commit_files(
            self.bare_path(owner, repo), branch, files, message, start=start
        )

    def branch_sha(self, owner: str, repo: str, branch: str) -> str | None:
        return gitrepo.resolve(self.bare_path(owner, repo), f"refs/heads/{branch}")

    def read_file(self, owner: str, repo: str, rev: str, path: str) -> str | None:
        try:
            return gitrepo.git(self.bare_path(owner, repo), "show", f"{rev}:{path}")
        except gitrepo.GitFailure:
            return None

    def set_permission(self, owner: str, repo: str, login: str, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}; one of {PERMISSIONS}")
        with self.state.lock:
            self.state.repos[(owner, repo)].permissions[login] = permission

    # -- issues, pull requests, comments -------------------------------------------------------

    def add_issue(
        self, owner: str, repo: str, number: int, title: str, body: str, user: str = "octocat"
    ) -> None:
        key = (owner, repo)
        with self.state.lock:
            if number in self.state.issues[key] or number in self.state.pulls[key]:
                raise ValueError(f"#{number} already exists in {owner}/{repo}")
            issue = Issue(number, self.state.next_id(), owner, repo, title, body, user)
            self.state.issues[key][number] = issue

    def add_comment(
        self,
        owner: str,
        repo: str,
        issue: int,
        body: str,
        user: str = "octocat",
        *,
        at: str | None = None,
    ) -> int:
        """A comment by a person (not the app) on an issue or pull request; returns its id.
        `at`: its created/updated time (GitHub's "2024-01-01T00:00:00Z"), default now."""
        return self._new_comment(owner, repo, issue, body, user, via_app=False, at=at)

    def add_app_comment(
        self, owner: str, repo: str, issue: int, body: str, *, at: str | None = None
    ) -> int:
        """A comment the app wrote earlier (e.g. one carrying a run's hidden marker)."""
        return self._new_comment(owner, repo, issue, body, self.bot_login, via_app=True, at=at)

    def _new_comment(
        self, owner: str, repo: str, issue: int, body: str, user: str, *, via_app: bool,
        at: str | None,
    ) -> int:  # fmt: skip
        with self.state.lock:
            key = (owner, repo)
            if issue not in self.state.issues[key] and issue not in self.state.pulls[key]:
                raise KeyError(f"no issue or pull request #{issue} in {owner}/{repo}")
            comment = Comment(self.state.next_id(), owner, repo, issue, body, user, via_app)
            if at is not None:
                comment.created_at = comment.updated_at = at
            self.state.comments[comment.id] = comment
        return comment.id

    def add_pull(
        self,
        owner: str,
        repo: str,
        head: str,
        base: str | None = None,
        *,
        title: str = "A pull request",
        body: str = "",
        user: str | None = None,
        draft: bool = False,
    ) -> int:
        """A pull request (by the app unless `user` says otherwise); returns its number."""
        state = self.repo(owner, repo)
        with self.state.lock:
            pr = PullRequest(
                number=self.state.next_number(state.key),
                id=self.state.next_id(),
                owner=owner,
                repo=repo,
                title=title,
                body=body,
                user=user or self.bot_login,
                head_owner=owner,
                head_ref=head,
                base_ref=base or state.default_branch,
                draft=draft,
            )
            self.state.pulls[state.key][pr.number] = pr
        return pr.number

    def add_review_comment(
        self,
        owner: str,
        repo: str,
        pull_number: int,
        path: str,
        line: int,
        body: str,
        user: str = "octocat",
        *,
        in_reply_to: int | None = None,
    ) -> int:
        """A review comment on `path` at new-side `line` of the pull request; returns its id."""
        with self.state.lock:
            pr = self.state.pulls[(owner, repo)][pull_number]
        bare = self.bare_path(owner, repo)
        head = gitrepo.resolve(bare, f"refs/heads/{pr.head_ref}") or gitrepo.ZERO_SHA
        base = gitrepo.resolve(bare, f"refs/heads/{pr.base_ref}") or gitrepo.ZERO_SHA
        try:
            hunk = gitrepo.diff_hunk(bare, base, head, path, line)
        except gitrepo.GitFailure:
            hunk = f"@@ -{line},1 +{line},1 @@"
        comment = ReviewComment(
            self.state.next_id(), owner, repo, pull_number, path, line, body, user,
            via_app=False, commit_id=head, diff_hunk=hunk, in_reply_to_id=in_reply_to,
        )  # fmt: skip
        with self.state.lock:
            self.state.review_comments[comment.id] = comment
        return comment.id

    # -- faults ----------------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_regex: str,
        *,
        status: int | None = None,
        delay: float = 0.0,
        times: int = 1,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        applied: bool = False,
        cut: str | None = None,
    ) -> None:
        """Answer the next `times` requests matching (method or "*", path regex) with `status`
        and `body` (GitHub's error JSON by default) after `delay` seconds; times=-1: forever.
        With status None the request is only delayed, then served normally.

        `applied`: the route's handler runs first (its state changes stay), then the answer is
        replaced (see `inject_lost_answer`). `cut` ("before" or, with `applied`, "mid"): the
        connection closes instead of answering."""
        if cut is not None and cut not in CUTS:
            raise ValueError(f"cut must be one of {CUTS}, not {cut!r}")
        if cut == "mid" and not applied:
            raise ValueError('cut="mid" cuts a real answer: it needs applied=True')
        fault = Fault(method.upper(), re.compile(path_regex), status, delay, times, body)
        fault.headers = dict(headers or {})
        fault.applied, fault.cut = applied, cut
        self.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault and every request hook."""
        self.faults.clear()
        self.hooks.clear()

    async def abort_connection(self, scope: Scope) -> None:
        """Close the connection of the request `scope` without a word (server loop only)."""
        await abort_connection(self._server, scope.get("client"))

    def push_lock(self, repo: RepoState) -> asyncio.Lock:
        """Serialises pushes per repository (server loop only)."""
        return self._push_locks.setdefault(repo.full_name, asyncio.Lock())

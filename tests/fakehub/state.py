"""Inspectable state of the emulated GitHub: plain dataclasses behind one lock.

The server thread mutates the state while tests read it, so every mutation and every helper that
reads more than one field takes `HubState.lock`.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RepoKey = tuple[str, str]

PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")


def now_iso() -> str:
    """GitHub's timestamp format: second precision, UTC, trailing Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Installation:
    id: int
    account: str
    permissions: dict[str, str]
    created_at: str = field(default_factory=now_iso)


@dataclass
class RepoState:
    owner: str
    name: str
    id: int
    default_branch: str
    installation_id: int
    private: bool
    bare: Path
    permissions: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=now_iso)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def key(self) -> RepoKey:
        return (self.owner, self.name)


@dataclass
class Issue:
    number: int
    id: int
    owner: str
    repo: str
    title: str
    body: str | None
    user: str
    state: str = "open"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None


@dataclass
class PullRequest:
    number: int
    id: int
    owner: str
    repo: str
    title: str
    body: str | None
    user: str
    head_owner: str
    head_ref: str
    base_ref: str
    draft: bool = False
    state: str = "open"
    maintainer_can_modify: bool = False
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None


@dataclass
class Comment:
    """An issue (or pull request conversation) comment."""

    id: int
    owner: str
    repo: str
    issue_number: int
    body: str
    user: str
    via_app: bool
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class ReviewComment:
    """A pull request review comment (a line comment in the diff), or a reply to one."""

    id: int
    owner: str
    repo: str
    pull_number: int
    path: str
    line: int
    body: str
    user: str
    via_app: bool
    commit_id: str
    diff_hunk: str
    in_reply_to_id: int | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)


@dataclass
class Reaction:
    id: int
    subject: str  # "issue_comment" | "review_comment"
    subject_id: int
    content: str
    user: str
    created_at: str = field(default_factory=now_iso)


@dataclass
class Push:
    """One ref change, by `git push` ("git") or by the refs REST API ("rest")."""

    repo: str  # "owner/name"
    ref: str  # "refs/heads/…"
    old: str  # 40 zeros when created
    new: str  # 40 zeros when deleted
    forced: bool
    via: str = "git"


@dataclass
class IssuedToken:
    token: str
    installation_id: int
    expires_at: datetime
    # None: every repository of the installation; else only these (GitHub's `repository_ids`).
    repository_ids: frozenset[int] | None = None

    @property
    def expired(self) -> bool:
        return datetime.now(UTC) >= self.expires_at

    def reaches(self, repo: RepoState) -> bool:
        """Whether this token may act on `repo` (its installation's, and in its scope)."""
        in_scope = self.repository_ids is None or repo.id in self.repository_ids
        return repo.installation_id == self.installation_id and in_scope


@dataclass
class HubState:
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    installations: dict[int, Installation] = field(default_factory=dict)
    repos: dict[RepoKey, RepoState] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    issues: dict[RepoKey, dict[int, Issue]] = field(default_factory=dict)
    pulls: dict[RepoKey, dict[int, PullRequest]] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    review_replies: list[ReviewComment] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    issued_tokens: dict[str, IssuedToken] = field(default_factory=dict)
    # (method, path, status the client saw); 0: the connection closed with no answer.
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    # (method, path, status the handler answered) of requests applied whose answer was lost.
    lost_answers: list[tuple[str, str, int]] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001), repr=False)

    def next_id(self) -> int:
        """One increasing id space for every object: later objects have larger ids."""
        with self.lock:
            return next(self._ids)

    def user_id(self, login: str) -> int:
        with self.lock:
            if login not in self.users:
                self.users[login] = 500 + len(self.users)
            return self.users[login]

    def next_number(self, key: RepoKey) -> int:
        """Issues and pull requests share one number space per repository."""
        with self.lock:
            used = set(self.issues.get(key, {})) | set(self.pulls.get(key, {}))
            return max(used, default=0) + 1

    def comments_on(self, owner: str, repo: str, issue: int) -> list[Comment]:
        with self.lock:
            return [
                c
                for c in sorted(self.comments.values(), key=lambda c: c.id)
                if (c.owner, c.repo, c.issue_number) == (owner, repo, issue)
            ]

    def reactions_on(self, comment_id: int, subject: str = "issue_comment") -> list[Reaction]:
        with self.lock:
            return [r for r in self.reactions if (r.subject, r.subject_id) == (subject, comment_id)]

    def pulls_of(self, owner: str, repo: str) -> list[PullRequest]:
        with self.lock:
            return sorted(self.pulls.get((owner, repo), {}).values(), key=lambda p: p.number)

    def pushes_to(self, owner: str, repo: str) -> list[Push]:
        with self.lock:
            return [p for p in self.pushes if p.repo == f"{owner}/{repo}"]

    def thread_of(self, review_comment_id: int) -> list[ReviewComment]:
        """The review thread a comment belongs to: its root first, then replies by id."""
        with self.lock:
            root = self.review_comments[review_comment_id]
            while root.in_reply_to_id is not None:
                root = self.review_comments[root.in_reply_to_id]
            replies = [c for c in self.review_comments.values() if c.in_reply_to_id == root.id]
            return [root, *sorted(replies, key=lambda c: c.id)]

"""Where a command was written: the repository, and the conversation it is answered in."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class CommentKind(StrEnum):
    ISSUE = "issue_comment"
    REVIEW = "review_comment"


class RepoRef(BaseModel, frozen=True):
    id: int
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class Target(BaseModel, frozen=True):
    """The conversation a command is answered in: an issue (or PR) and the comment."""

    installation_id: int
    repo: RepoRef
    issue_number: int
    comment_kind: CommentKind
    comment_id: int


class CommentKey(BaseModel, frozen=True):
    """Who owns a comment the app creates and what it is: the run (or command) workflow's id
    and a kind (plan, failure, reply-<purpose>). Its hidden marker (render/markers.py) lets a
    retry find the comment an earlier attempt created instead of posting a second one.

    `since`: an ISO time before the owner asked for the comment; the search looks no further
    back (comments updated since then)."""

    run: str = Field(pattern=r"^[A-Za-z0-9._-]{1,200}$")
    kind: str = Field(pattern=r"^[a-z0-9-]{1,60}$")
    since: str | None = None

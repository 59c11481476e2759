"""Where a command was written: the repository, and the conversation it is answered in."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


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

"""One model per GitHub object the app handles, as workflows and activities pass them on
(pydantic, no githubkit: workflow contracts never import the SDK)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]


class Comment(BaseModel):
    """A comment the app posted (in a conversation or a review thread)."""

    id: int
    html_url: str


class PostedComment(Comment):
    """A comment as a listing shows it: who wrote it and what it says."""

    author: str
    body: str


class PullRequest(BaseModel):
    number: int
    html_url: str
    draft: bool


class PullBranches(BaseModel):
    """Where a pull request comes from and goes to, and who opened it."""

    head: str
    base: str
    head_is_fork: bool
    author: str
    open: bool


class FollowUp(BaseModel):
    """Where a follow-up on a pull request works, or why it may not."""

    branch: str = ""
    base: str = ""
    refusal: str = ""


class RepositoryAccess(BaseModel):
    """What GitHub says about a command's repository and commenter."""

    # False when the payload's repository id is not the repository it names, as seen by the
    # installation (or the installation cannot see that repository at all).
    repository_confirmed: bool
    permission: str = "none"

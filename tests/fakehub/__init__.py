"""A GitHub emulator for tests: REST endpoints with GitHub's shapes and git smart HTTP."""

from .gitrepo import ZERO_SHA
from .server import FakeHub
from .state import (
    Comment,
    HubState,
    Installation,
    Issue,
    IssuedToken,
    PullRequest,
    Push,
    Reaction,
    RepoState,
    ReviewComment,
)

__all__ = [
    "ZERO_SHA",
    "Comment",
    "FakeHub",
    "HubState",
    "Installation",
    "Issue",
    "IssuedToken",
    "PullRequest",
    "Push",
    "Reaction",
    "RepoState",
    "ReviewComment",
]

"""The package's one exception tree.

BotError
 ├── ConfigError        a setting or repository config is missing or invalid
 ├── GitHubError        a GitHub REST call failed (mapped from githubkit at the adapter)
 ├── GitError           a git command failed or timed out
 │    └── RebaseConflict  a fetch-rebase stopped on conflicting files
 ├── SandboxError       a sandboxed command could not be started
 │    └── EgressRefused   a destination the egress proxy or allow-list refuses
 │                        (bot/core/egress_policy.py: its `status` is the proxy's answer)
 ├── FileRefused        a file a sandbox wrote that the host will not open (special, link, size)
 ├── PayloadTooLarge    an activity's input or result over the bound Temporal is given
 ├── ModelError         a Messages API call failed or returned something unusable
 ├── PlanInvalid        the planner twice returned no valid plan (agents/planner.py)
 ├── PathRefused        an agent tool named a path outside its worktree
 ├── ToolError          an agent tool call failed; the loop answers it with is_error: true
 └── MemoryRefused      a memory write was refused (the agent sees it as a tool error)

Imports nothing of bot: every package may raise these, and boundaries map them
(activities/boundary.py turns each into a Temporal ApplicationError).
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(BotError):
    pass


class GitHubError(BotError):
    """`retry_after`: seconds GitHub asked us to wait (a primary or secondary rate limit), or
    None when the answer was not a rate limit."""

    def __init__(
        self, message: str, status: int | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class GitError(BotError):
    pass


class RebaseConflict(GitError):
    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


class SandboxError(BotError):
    pass


class FileRefused(BotError):
    """The message says what the file is ("is a FIFO, not a regular file"), never its path."""


class PayloadTooLarge(BotError):
    """The message names the activity and the field that holds most of the bytes."""


class ModelError(BotError):
    """`retryable`: whether trying the same request later may succeed (429, 5xx, connection);
    `retry_after`: the seconds the API asked us to wait first, when it said.

    The message never contains the API key.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class PathRefused(BotError):
    pass


class ToolError(BotError):
    """The message is shown to the model, so it must be short and contain no secrets."""


class MemoryRefused(BotError):
    """A write the shared memory refuses; the message is shown to the model."""

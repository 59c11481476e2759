"""The package's one exception tree.

BotError
 ├── ConfigError        a setting or repository config is missing or invalid
 ├── GitHubError        a GitHub REST call failed (mapped from githubkit at the adapter)
 ├── GitError           a git command failed or timed out
 │    └── RebaseConflict  a fetch-rebase stopped on conflicting files
 ├── SandboxError       a sandboxed command could not be started
 ├── ModelError         a Messages API call failed or returned something unusable
 ├── PlanInvalid        the planner twice returned no valid plan
 ├── PathRefused        an agent tool named a path outside its worktree
 ├── ToolError          an agent tool call failed; the loop answers it with is_error: true
 ├── MemoryRefused      a memory write was refused (the agent sees it as a tool error)
 └── BudgetExceeded     an agent or run reached one of its limits
"""

from __future__ import annotations

from bot.core.usage import Usage


class BotError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(BotError):
    pass


class GitHubError(BotError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitError(BotError):
    pass


class RebaseConflict(GitError):
    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


class SandboxError(BotError):
    pass


class ModelError(BotError):
    """`retryable`: whether trying the same request later may succeed (429, 5xx, connection).

    The message never contains the API key; Temporal decides about retries from `retryable`.
    """

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class PlanInvalid(BotError):
    """`usage`: the tokens the failed planner calls used (the run still pays for them)."""

    def __init__(self, reason: str, usage: Usage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage if usage is not None else Usage()


class PathRefused(BotError):
    pass


class ToolError(BotError):
    """The message is shown to the model, so it must be short and contain no secrets."""


class MemoryRefused(BotError):
    """A write the shared memory refuses; the message is shown to the model."""


class BudgetExceeded(BotError):
    def __init__(self, limit: str) -> None:
        super().__init__(f"budget reached: {limit}")
        self.limit = limit

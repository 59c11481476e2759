"""The package's one exception tree.

BotError
 ├── ConfigError        a setting or repository config is missing or invalid
 ├── GitHubError        a GitHub REST call failed (mapped from githubkit at the adapter)
 ├── GitError           a git command failed or timed out
 │    └── RebaseConflict  a fetch-rebase stopped on conflicting files
 ├── SandboxError       a sandboxed command could not be started
 ├── ModelError         a Messages API call failed or returned something unusable
 ├── PathRefused        an agent tool named a path outside its worktree
 ├── ToolError          an agent tool call failed; the loop answers it with is_error: true
 └── BudgetExceeded     an agent or run reached one of its limits
"""

from __future__ import annotations


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
    pass


class PathRefused(BotError):
    pass


class ToolError(BotError):
    """The message is shown to the model, so it must be short and contain no secrets."""


class BudgetExceeded(BotError):
    def __init__(self, limit: str) -> None:
        super().__init__(f"budget reached: {limit}")
        self.limit = limit

"""The contracts of the activities: one pydantic input each, and their outputs. Workflows build
these; nothing here holds a token or a githubkit type."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bot.core.plan import Plan, Role
from bot.core.pricing import PriceTable
from bot.core.repo_config import RepoConfig
from bot.core.results import ModelUsage
from bot.core.targets import CommentKey, Target
from bot.core.usage import Usage
from bot.github.models import Reaction

# ---- GitHub (or the local forge) -----------------------------------------------------------


class TargetInput(BaseModel):
    """Where a command was written (run context, follow-up)."""

    target: Target


class PermissionInput(BaseModel):
    target: Target
    username: str


class PostInput(BaseModel):
    target: Target
    body: str
    key: CommentKey | None = None  # posted once under this key (its hidden marker)


class EditInput(BaseModel):
    target: Target
    comment_id: int
    body: str
    key: CommentKey | None = None  # the comment's marker, kept


class ReactInput(BaseModel):
    target: Target
    content: Reaction


class PullInput(BaseModel):
    target: Target
    head: str
    base: str
    title: str
    body: str
    draft: bool


# ---- other runs (Temporal) -------------------------------------------------------------------


class RunLinkInput(BaseModel):
    workflow_id: str


class EnqueueInput(BaseModel):
    """A command for its issue's queue (workflows/issue.py): run, cancel, cancel all, approve.
    `request` is a workflows/shared.py CommandRequest as JSON (activities may not import the
    workflows; the client side validates it again)."""

    request: dict[str, Any]


# ---- the repository --------------------------------------------------------------------------


class RunContext(BaseModel):
    """What the run learns about the repository before planning."""

    default_branch: str
    base_sha: str
    config: RepoConfig | None = None
    config_error: str = ""
    repo_summary: str = ""
    prices: PriceTable = Field(default_factory=PriceTable.default)


class BranchInput(BaseModel):
    target: Target
    branch: str
    base_sha: str


class AttributeInput(BaseModel):
    target: Target
    branch: str
    base_sha: str
    max_rows: int | None = 300


class Attributed(BaseModel):
    table: str  # the attribution table of the pull request body


# ---- the model, the agents, the tests --------------------------------------------------------


class PlanInput(BaseModel):
    task: str
    issue_title: str
    issue_body: str
    repo_summary: str
    config: RepoConfig
    run_workflow_id: str = ""  # where each call's usage is reported ("": nowhere)


class PlanResult(BaseModel):
    plan: Plan | None = None
    error: str = ""
    usage: Usage
    attempt: int = 1

    @property
    def report(self) -> ModelUsage:
        """Its usage, as the run accounts it (the last report of its attempt)."""
        return ModelUsage(call="plan", attempt=self.attempt, usage=self.usage)


class WarmInput(BaseModel):
    plan: Plan
    repo_summary: str
    config: RepoConfig
    run_workflow_id: str = ""


class AgentInput(BaseModel):
    target: Target
    run_workflow_id: str
    role: Role
    round: int
    branch: str
    plan: Plan
    repo_summary: str
    config: RepoConfig
    feedback: str = ""
    environment: EnvironmentSpec | None = None  # None: no repository environment
    own_branches: str = ""  # the agents' own branches are named after it ("": after `branch`)
    # Conflict mode (n > 0): rebase the commit on the branch `resolve` onto `branch`, the
    # agent resolving the conflicts; the result goes to a new branch of its own.
    conflict: int = 0
    resolve: str = ""


class LandInput(BaseModel):
    """Land the commit on an agent's own branch `source` on the run's `branch`."""

    target: Target
    run_workflow_id: str
    branch: str
    source: str
    task: str  # its Orchestrate-Task trailer: a landing whose answer was lost is found by it


class Landed(BaseModel):
    commits: list[str] = Field(default_factory=list)  # on the branch now
    conflict_files: list[str] = Field(default_factory=list)  # or why it could not land


class BranchesInput(BaseModel):
    target: Target
    branches: list[str]


class TestInput(BaseModel):
    target: Target
    branch: str
    round: int
    command: str
    timeout_minutes: float = 10.0
    # The run's environment (the default branch's), never one built from the scratch head.
    environment: EnvironmentSpec | None = None


# ---- the repository's environment ------------------------------------------------------------


class EnvironmentSpec(BaseModel):
    """What defines a run's environment besides the repository's files: the commit whose
    manifests define it, the repo config's setup command, extra hosts and timeout.

    The commit is always the default branch's head the run started from, never a commit an
    agent wrote (a scratch head, a follow-up's pull request): a setup runs repository code with
    the network and fills a cache later runs trust, so only what maintainers pushed may."""

    target: Target
    revision: str
    setup_command: str | None = None
    network_allow: list[str] = Field(default_factory=list)
    timeout_minutes: float = 15.0

    @classmethod
    def of(cls, target: Target, config: RepoConfig, *, revision: str) -> EnvironmentSpec:
        return cls(
            target=target,
            revision=revision,
            setup_command=config.setup_command,
            network_allow=list(config.network.allow),
            timeout_minutes=config.setup_timeout_minutes,
        )

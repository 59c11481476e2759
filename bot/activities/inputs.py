"""The contracts of the activities: one pydantic input each, and their outputs. Workflows build
these; nothing here holds a token or a githubkit type."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.core.commands import CommandKind
from bot.core.plan import Plan, Role
from bot.core.pricing import PriceTable
from bot.core.repo_config import RepoConfig
from bot.core.targets import Target
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


class EditInput(BaseModel):
    target: Target
    comment_id: int
    body: str


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


class SignalInput(BaseModel):
    workflow_id: str
    signal: CommandKind  # approve or cancel
    by: str


class RunLinkInput(BaseModel):
    workflow_id: str


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


class PlanResult(BaseModel):
    plan: Plan | None = None
    error: str = ""
    usage: Usage


class WarmInput(BaseModel):
    plan: Plan
    repo_summary: str
    config: RepoConfig


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


class TestInput(BaseModel):
    target: Target
    branch: str
    round: int
    command: str
    timeout_minutes: float = 10.0
    # The tests recompute it from the scratch head: a changed lock file rebuilds.
    environment: EnvironmentSpec | None = None


# ---- the repository's environment ------------------------------------------------------------


class EnvironmentSpec(BaseModel):
    """What defines a run's environment besides the repository's files: the commit whose
    manifests define it (or, for a follow-up, the branch whose head does), the repo config's
    setup command, extra hosts and timeout."""

    target: Target
    revision: str = ""
    branch: str = ""  # when `revision` is empty: that remote branch's head
    setup_command: str | None = None
    network_allow: list[str] = Field(default_factory=list)
    timeout_minutes: float = 15.0

    @classmethod
    def of(
        cls, target: Target, config: RepoConfig, *, revision: str = "", branch: str = ""
    ) -> EnvironmentSpec:
        return cls(
            target=target,
            revision=revision,
            branch=branch,
            setup_command=config.setup_command,
            network_allow=list(config.network.allow),
            timeout_minutes=config.setup_timeout_minutes,
        )

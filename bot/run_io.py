"""Inputs and outputs of the run's activities (one pydantic argument each)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.core.plan import Plan, Role
from bot.core.pricing import PriceTable
from bot.core.repo_config import RepoConfig
from bot.core.targets import Target
from bot.core.usage import Usage
from bot.github.models import Reaction


class ContextInput(BaseModel):
    target: Target


class RunContext(BaseModel):
    """What the run learns about the repository before planning."""

    default_branch: str
    base_sha: str
    config: RepoConfig | None = None
    config_error: str = ""
    repo_summary: str = ""
    prices: PriceTable = Field(default_factory=PriceTable.default)


class PlanInput(BaseModel):
    task: str
    issue_title: str
    issue_body: str
    repo_summary: str
    config: RepoConfig


class PlanResult(BaseModel):
    plan: Plan | None = None
    error: str = ""
    model: str
    usage: Usage
    attempts: int = 1


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


class BranchInput(BaseModel):
    target: Target
    branch: str
    base_sha: str


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


class TestInput(BaseModel):
    target: Target
    branch: str
    round: int
    command: str
    setup_command: str | None = None
    timeout_minutes: float = 10.0


class AttributeInput(BaseModel):
    target: Target
    branch: str
    base_sha: str
    max_rows: int | None = 300


class AttributionOut(BaseModel):
    table: str
    total_added: int
    total_removed: int
    hunks: int


class PullInput(BaseModel):
    target: Target
    head: str
    base: str
    title: str
    body: str
    draft: bool

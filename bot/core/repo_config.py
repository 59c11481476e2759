"""`.github/orchestrate.yml`: a repository's settings for runs, validated (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.commit_policy import (
    DEFAULT_MAX_COMMIT_BYTES,
    DEFAULT_MAX_FILE_BYTES,
    WritePolicy,
    denied_globs,
)
from bot.core.egress_allow import MAX_REPO_ENTRIES
from bot.core.egress_policy import EgressRefused, parse_rule
from bot.core.plan import Role
from bot.core.validation import brief
from bot.errors import ConfigError

CONFIG_PATH = ".github/orchestrate.yml"
DEFAULT_MODEL = "claude-sonnet-4-6"


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: int = Field(default=2_000_000, ge=1_000, description="tokens for the whole run")
    dollars: float = Field(default=10.0, gt=0, description="estimated dollars for the whole run")
    minutes: float = Field(default=60.0, gt=0, description="wall time of the whole run")
    agent_turns: int = Field(default=30, ge=1, le=200)
    agent_tokens: int = Field(default=600_000, ge=1_000)
    agent_minutes: float = Field(default=20.0, gt=0)


class Models(BaseModel):
    model_config = ConfigDict(extra="forbid")

    planner: str = DEFAULT_MODEL
    implement: str = DEFAULT_MODEL
    test: str = DEFAULT_MODEL
    docs: str = DEFAULT_MODEL

    def for_role(self, role: Role | str) -> str:
        return str(getattr(self, str(role)))


class Network(BaseModel):
    """What the environment's setup may reach besides the operator's hosts (package
    registries by default); agents and tests never have network."""

    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(default_factory=list, max_length=MAX_REPO_ENTRIES)

    @field_validator("allow")
    @classmethod
    def _entries(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            try:
                parse_rule(entry, trusted=False)
            except EgressRefused as exc:
                raise ValueError(str(exc)) from None
        return entries


class RepoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_command: str | None = Field(default=None, max_length=500)
    setup_command: str | None = Field(default=None, max_length=500)
    agents: list[Role] = Field(default_factory=lambda: list(Role), min_length=1)
    max_rounds: int = Field(default=2, ge=1, le=5)
    budget: Budget = Field(default_factory=Budget)
    models: Models = Field(default_factory=Models)
    require_approval: bool = False
    approval_timeout_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    paths: dict[Role, list[str]] = Field(
        default_factory=dict, description="per-role globs an agent may write; empty = anywhere"
    )
    allow_workflow_edits: bool = False
    allow_submodules: bool = Field(
        default=False, description="let agents commit gitlinks and .gitmodules changes"
    )
    max_file_bytes: int = Field(
        default=DEFAULT_MAX_FILE_BYTES,
        ge=1,
        le=50 * 1024 * 1024,  # GitHub warns from 50 MB and rejects 100 MB
        description="largest file an agent may commit",
    )
    max_commit_bytes: int = Field(
        default=DEFAULT_MAX_COMMIT_BYTES,
        ge=1,
        le=100 * 1024 * 1024,
        description="largest total of the files one agent commit adds or changes",
    )
    parallel: bool = Field(
        default=True, description="run the agents concurrently; false runs them one by one"
    )
    test_timeout_minutes: float = Field(default=10.0, gt=0, le=60)
    network: Network = Field(default_factory=Network)
    setup_timeout_minutes: float = Field(
        default=15.0, gt=0, le=120, description="time the environment's setup may take"
    )


def parse_repo_config(text: str | None) -> RepoConfig:
    """The config in `text` (None: the file does not exist → defaults)."""
    if text is None:
        return RepoConfig()
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{CONFIG_PATH} is not valid YAML: {exc}") from exc
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG_PATH} must be a mapping of settings")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        problems = brief(exc, root="(top)")
        raise ConfigError(f"{CONFIG_PATH} is invalid: {problems}") from exc


def write_policy(config: RepoConfig, role: Role) -> WritePolicy:
    """What an agent of `role` may commit, whatever wrote it (the editor refuses the same, but a
    `run` command can write anywhere in the worktree): see core/commit_policy.py."""
    allowed = config.paths.get(role)
    return WritePolicy(
        allowed_globs=tuple(allowed) if allowed is not None else None,
        denied_globs=denied_globs(allow_workflow_edits=config.allow_workflow_edits),
        allow_submodules=config.allow_submodules,
        max_file_bytes=config.max_file_bytes,
        max_commit_bytes=config.max_commit_bytes,
    )

"""`.github/orchestrate.yml` parsing: defaults, valid settings, and exact refusals."""

from __future__ import annotations

import pytest

from bot.core.plan import Role
from bot.core.repo_config import RepoConfig, parse_repo_config
from bot.errors import ConfigError


def test_missing_or_empty_file_gives_defaults() -> None:
    """No file (or an empty one) means sensible defaults: all agents, two rounds, no approval."""
    for text in (None, "", "# only a comment\n"):
        config = parse_repo_config(text)
        assert config == RepoConfig()
        assert config.agents == [Role.IMPLEMENT, Role.TEST, Role.DOCS]
        assert config.max_rounds == 2 and not config.require_approval
        assert config.approval_timeout_hours == 24


def test_full_config_is_read() -> None:
    """Every documented key is read into the typed config."""
    config = parse_repo_config(
        """
test_command: python -m pytest -q
setup_command: pip install -e .
agents: [implement, test]
max_rounds: 3
budget: {tokens: 500000, dollars: 2.5, minutes: 30}
models: {planner: claude-opus-4-6, docs: claude-haiku-4-5}
require_approval: true
paths:
  docs: ["docs/**", "README.md"]
"""
    )
    assert config.test_command == "python -m pytest -q"
    assert config.agents == [Role.IMPLEMENT, Role.TEST]
    assert (config.max_rounds, config.budget.dollars, config.require_approval) == (3, 2.5, True)
    assert config.models.for_role(Role.DOCS) == "claude-haiku-4-5"
    assert config.models.for_role("implement") == "claude-sonnet-4-6"
    assert config.paths == {Role.DOCS: ["docs/**", "README.md"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "max_rounds: 0",
            ".github/orchestrate.yml is invalid: max_rounds: Input should be greater than or equal to 1",
        ),
        (
            "agents: [implement, reviewer]",
            ".github/orchestrate.yml is invalid: agents.1: Input should be 'implement', 'test' or 'docs'",
        ),
        (
            "unknown_key: 1",
            ".github/orchestrate.yml is invalid: unknown_key: Extra inputs are not permitted",
        ),
        ("- a list", ".github/orchestrate.yml must be a mapping of settings"),
        (
            "network: {allow: [10.0.0.1]}",
            ".github/orchestrate.yml is invalid: network.allow: Value error, egress allow-list "
            "entry '10.0.0.1' names a non-public address; only the worker's operator can allow "
            "those",
        ),
        (
            "network: {allow: ['https://pypi.example.com']}",
            ".github/orchestrate.yml is invalid: network.allow: Value error, invalid egress "
            "allow-list entry 'https://pypi.example.com': not a plain host[:port]: "
            "'https://pypi.example.com'",
        ),
        (
            "network: {deny: [x]}",
            ".github/orchestrate.yml is invalid: network.deny: Extra inputs are not permitted",
        ),
        (
            "setup_timeout_minutes: 121",
            ".github/orchestrate.yml is invalid: setup_timeout_minutes: Input should be less "
            "than or equal to 120",
        ),
    ],
)
def test_invalid_config_is_refused_with_the_reason(text: str, message: str) -> None:
    """An invalid file fails with a message quoting what is wrong."""
    with pytest.raises(ConfigError) as caught:
        parse_repo_config(text)
    assert str(caught.value) == message


def test_environment_settings_are_read() -> None:
    """network.allow and setup_timeout_minutes are read; by default a repository adds no host
    and its setup may take 15 minutes."""
    config = parse_repo_config(
        "network:\n  allow: [pypi.example.com, '*.corp.example:8443']\nsetup_timeout_minutes: 30\n"
    )
    assert config.network.allow == ["pypi.example.com", "*.corp.example:8443"]
    assert config.setup_timeout_minutes == 30
    assert (RepoConfig().network.allow, RepoConfig().setup_timeout_minutes) == ([], 15)


def test_broken_yaml_is_refused() -> None:
    """YAML that does not parse is a ConfigError naming the file."""
    with pytest.raises(ConfigError, match=r"^\.github/orchestrate\.yml is not valid YAML"):
        parse_repo_config("test_command: [unclosed")

"""Pure run decisions: branch names, who fixes a failure, trimming, budgets."""

from __future__ import annotations

import pytest

from bot.core.decisions import (
    choose_fixer,
    run_budget_reached,
    scratch_branch,
    slugify,
    total_usage,
    trim_output,
)
from bot.core.plan import Role
from bot.core.results import AgentResult, AgentStatus
from bot.core.usage import Usage

ALL = [Role.IMPLEMENT, Role.TEST, Role.DOCS]


@pytest.mark.parametrize(
    ("task", "slug"),
    [
        ("Add a --verbose flag to the CLI", "add-a-verbose-flag-to-the-cli"),
        ("Fix   typo in README!!", "fix-typo-in-readme"),
        ("Ünïcödé naïve café", "unicode-naive-cafe"),
        ("", "task"),
        ("!!!", "task"),
        ("word " * 30, "word-word-word-word-word-word-word-word"),
    ],
)
def test_slugify(task: str, slug: str) -> None:
    """Slugs are lowercase ascii words joined by dashes, at most 40 characters, never empty."""
    assert slugify(task) == slug
    assert len(slugify(task)) <= 40


def test_scratch_branch_is_under_the_app_prefix() -> None:
    """The run's branch is orchestrate/<issue>-<slug>."""
    assert scratch_branch(12, "Add --verbose") == "orchestrate/12-add-verbose"


PYTEST_ASSERTION = """\
FAILED tests/test_cli.py::test_verbose - AssertionError: assert 'x' in ''
1 failed, 3 passed in 0.10s
"""
PYTEST_COLLECTION = """\
==================================== ERRORS ====================================
ERROR collecting tests/test_cli.py
ImportError while importing test module '/w/tests/test_cli.py'.
"""
PYTEST_FIXTURE = "E       fixture 'verbose_cli' not found\n"


@pytest.mark.parametrize(
    ("output", "roles", "fixer"),
    [
        (PYTEST_ASSERTION, ALL, Role.IMPLEMENT),
        (PYTEST_COLLECTION, ALL, Role.TEST),
        (PYTEST_FIXTURE, ALL, Role.TEST),
        (PYTEST_COLLECTION, [Role.IMPLEMENT, Role.DOCS], Role.IMPLEMENT),
        (PYTEST_ASSERTION, [Role.TEST], Role.TEST),
        (PYTEST_ASSERTION, [Role.DOCS], Role.DOCS),
    ],
)
def test_choose_fixer(output: str, roles: list[Role], fixer: Role) -> None:
    """Assertion failures go to the implementer; broken tests go to the test agent."""
    assert choose_fixer(output, roles) is fixer


def test_trim_output_keeps_head_and_tail() -> None:
    """Long outputs keep their start and (longer) end with the cut counted."""
    output = "H" * 5000 + "T" * 5000
    trimmed = trim_output(output, limit=1000)
    assert trimmed.startswith("H" * 250) and trimmed.endswith("T" * 750)
    assert "(9000 characters cut)" in trimmed
    assert trim_output("short", limit=1000) == "short"


def test_total_usage_sums_agents_and_extra() -> None:
    """Usage adds up over agents and the orchestrator."""
    result = AgentResult(
        role="implement",
        status=AgentStatus.DONE,
        model="m",
        usage=Usage(input_tokens=10, output_tokens=5),
    )
    total = total_usage([result, result], Usage(cache_read_tokens=7))
    assert total == Usage(input_tokens=20, output_tokens=10, cache_read_tokens=7)
    assert total.total == 37


@pytest.mark.parametrize(
    ("used", "reason"),
    [
        ({"tokens_used": 100, "dollars_used": 0.5, "elapsed_minutes": 1}, None),
        (
            {"tokens_used": 1000, "dollars_used": 0.5, "elapsed_minutes": 1},
            "tokens (1,000 of 1,000)",
        ),
        (
            {"tokens_used": 10, "dollars_used": 2.0, "elapsed_minutes": 1},
            "dollars ($2.00 of $2.00)",
        ),
        (
            {"tokens_used": 10, "dollars_used": None, "elapsed_minutes": 61},
            "time (61 of 60 minutes)",
        ),
    ],
)
def test_run_budget_reached(used: dict[str, float], reason: str | None) -> None:
    """The first budget reached is named; unknown cost does not trip the dollar budget."""
    assert run_budget_reached(**used, tokens=1000, dollars=2.0, minutes=60) == reason  # type: ignore[arg-type]

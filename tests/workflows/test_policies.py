"""The activity options as the reliability design states them: attempts are not counted (a
worker's shutdown or a rate limit costs one), the schedule-to-close timeout outlasts several of
GitHub's minute-long secondary limits, and long activities are given up on within a minute of
their last heartbeat."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.ratelimits import GITHUB_SECONDARY_MINIMUM_S
from bot.core.repo_config import RepoConfig
from bot.workflows import policies

GITHUB_FACING = {
    "GITHUB": policies.GITHUB,
    "COSMETIC": policies.COSMETIC,
    "RUNS": policies.RUNS,
    "REPO_CONTEXT": policies.REPO_CONTEXT,
    "GIT": policies.GIT,
    "PLAN": policies.PLAN,
    "WARM_CACHE": policies.WARM_CACHE,
    "tests": policies.tests(RepoConfig()),
}
LONG = ("REPO_CONTEXT", "GIT", "PLAN", "WARM_CACHE", "tests")


@pytest.mark.parametrize("name", GITHUB_FACING)
def test_only_time_ends_the_retries(name: str) -> None:
    """No attempt budget to exhaust; a schedule-to-close bound outlasting three secondary rate
    limits in a row (each at least a minute) plus an attempt."""
    options = GITHUB_FACING[name]
    assert options.retry.maximum_attempts == 0
    assert options.schedule_to_close is not None
    secondary_limits = timedelta(seconds=3 * GITHUB_SECONDARY_MINIMUM_S)
    assert options.schedule_to_close >= secondary_limits + options.start_to_close


@pytest.mark.parametrize("name", LONG)
def test_long_activities_are_taken_over_within_a_minute(name: str) -> None:
    """A heartbeat timeout of at most a minute: a dead worker's attempt is not waited for
    until its start-to-close timeout."""
    heartbeat = GITHUB_FACING[name].heartbeat
    assert heartbeat is not None and heartbeat <= timedelta(seconds=60)

"""The `prepare_environment` activity: the run's phase before the agents
(workflows/before_agents.py), over this worker's Environments (activities/environment.py)."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary, last_attempt
from bot.activities.environment import Environments
from bot.activities.heartbeat import heartbeating
from bot.activities.inputs import EnvironmentSpec
from bot.core.environment import EnvironmentReport
from bot.errors import SandboxError

__all__ = ["EnvironmentActivities"]

HEARTBEAT_SECONDS = 5.0


class EnvironmentActivities:
    def __init__(self, environments: Environments) -> None:
        self.environments = environments

    @activity.defn
    async def prepare_environment(self, params: EnvironmentSpec) -> EnvironmentReport:
        """The run's environment, built here unless this worker has it already. A setup
        that failed while allowed hosts were failing is tried again (a retryable error),
        unless no attempt follows: then its report says so."""
        with boundary():
            async with (
                heartbeating(HEARTBEAT_SECONDS),
                self.environments.ensure(params) as prepared,
            ):
                report = prepared.report
            if report.upstream_faults and not last_attempt():
                faults = "; ".join(report.upstream_faults[:3])
                raise SandboxError(f"the setup failed while an allowed host was failing: {faults}")
            return report

    def activities(self) -> list[Any]:
        return [self.prepare_environment]

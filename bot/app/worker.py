"""The worker's wiring: which activities a process runs (with their injected pieces: the forge,
the mirror cache, the model, the client side of the workflows) and the Temporal worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from bot.activities.agent import AgentActivities
from bot.activities.environment import EnvironmentOptions, Environments
from bot.activities.github import ForgeActivities
from bot.activities.land import LandActivities
from bot.activities.model import ModelActivities
from bot.activities.payloads import PayloadBound
from bot.activities.prepare_environment import EnvironmentActivities
from bot.activities.repo import RepoActivities
from bot.activities.temporal import TemporalActivities
from bot.activities.tests import SandboxedTests
from bot.activities.workspace import sweep_abandoned_work
from bot.agents.model import ModelClient
from bot.app.environment import environment_options
from bot.app.settings import Settings, git_cache_dir, work_dir
from bot.core.pricing import PriceTable
from bot.errors import SandboxError
from bot.git.mirror import MirrorCache
from bot.github.forge import Forge
from bot.sandbox.env_setup import socket_parent
from bot.sandbox.held_dirs import sweep_abandoned
from bot.workflows.client import RunClient, WorkflowMemory
from bot.workflows.command import CommandWorkflow
from bot.workflows.issue import IssueWorkflow
from bot.workflows.run import RunWorkflow

# Agents learn of a cancel from a heartbeat's answer: flush heartbeats often enough that
# `/orchestrate cancel` stops them within a few seconds.
HEARTBEAT_FLUSH = timedelta(seconds=2)
log = logging.getLogger(__name__)


def command_activities(client: Client, forge: Forge) -> list[Any]:
    """What command and issue workflows need: the forge's activities, the issue queue's
    signal-with-start and queries of runs (the run workflows use the same forge activities)."""
    return [
        *ForgeActivities(forge).activities(),
        *TemporalActivities(RunClient(client)).activities(),
    ]


def run_activities(
    client: Client,
    forge: Forge,
    model: ModelClient,
    data_dir: Path,
    prices: PriceTable | None = None,
    environment: EnvironmentOptions | None = None,
) -> list[Any]:
    """The run workflow's own activities: repository, model, environment, agents, tests (all
    local work goes under `data_dir`; each agent reaches the run's memory through its updates;
    `environment`: the operator's settings, default the defaults)."""
    cache = MirrorCache(git_cache_dir(data_dir))
    options = environment or environment_options(Settings.model_construct(), data_dir)
    environments = Environments(forge, cache, options)

    def link(workflow_id: str) -> WorkflowMemory:
        return WorkflowMemory(client, workflow_id)

    return [
        *RepoActivities(forge, cache, prices).activities(),
        *ModelActivities(model, link).activities(),
        *EnvironmentActivities(environments).activities(),
        *AgentActivities(forge, cache, work_dir(data_dir), model, link, environments).activities(),
        *LandActivities(forge, cache, work_dir(data_dir)).activities(),
        *SandboxedTests(forge, cache, work_dir(data_dir), environments).activities(),
    ]


async def sweep_after_crashes(data_dir: Path, options: EnvironmentOptions | None = None) -> None:
    """Before a worker starts: delete what killed processes left (setups' worktrees and
    scratch, agents' and tests' worktrees, proxies' socket directories) and nothing a live
    one, of this worker or another sharing `data_dir`, still holds."""
    options = options or environment_options(Settings.model_construct(), data_dir)
    cache = MirrorCache(git_cache_dir(data_dir))
    await sweep_abandoned_work(cache, work_dir(data_dir))
    await sweep_abandoned_work(cache, options.work_root, per_run=False)
    try:
        await asyncio.to_thread(sweep_abandoned, socket_parent(options.socket_root))
    except SandboxError as exc:  # every setup will say so too: the worker still starts
        log.warning("proxy sockets: %s", exc)


def build_run_worker(client: Client, task_queue: str, activities: Sequence[Any]) -> Worker:
    """A worker for runs only (`bot run`: no comments to handle)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[RunWorkflow],
        activities=list(activities),
        max_heartbeat_throttle_interval=HEARTBEAT_FLUSH,
        interceptors=[PayloadBound()],  # no activity result over the payload bound
    )


def build_worker(
    client: Client, task_queue: str, activities: Sequence[Any], *, max_concurrent: int = 50
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CommandWorkflow, IssueWorkflow, RunWorkflow],
        activities=list(activities),
        max_concurrent_activities=max_concurrent,
        max_heartbeat_throttle_interval=HEARTBEAT_FLUSH,
        interceptors=[PayloadBound()],  # no activity result over the payload bound
    )

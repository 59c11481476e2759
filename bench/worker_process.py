"""`bot worker` as a child process of a benchmark: started with the env of a loopback stack,
watched until it is up, its peak RSS read from /proc, stopped with SIGINT like Ctrl-C.

The process handling lives in tests/support/workers.py (shared with the durability tests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.workers import READY_LINE, WorkerProcess, bot_executable
from tests.support.workers import worker_env as stack_env

if TYPE_CHECKING:
    from bot.app.devserver import DevServer
    from tests.fakehub import FakeHub
    from tests.fakes import ScriptedModel

__all__ = ["READY_LINE", "WorkerProcess", "bot_executable", "worker_env"]


def worker_env(
    hub: FakeHub,
    model: ScriptedModel,
    devserver: DevServer,
    task_queue: str,
    webhook_secret: str,
    tmp: Path,
) -> dict[str, str]:
    """The settings of a `bot worker` against the loopback stack (bot/app/settings.py names)."""
    env = stack_env(
        hub,
        model,
        temporal_address=devserver.address,
        task_queue=task_queue,
        data_dir=tmp / "worker-data",
    )
    return env | {"GITHUB_WEBHOOK_SECRET": webhook_secret}

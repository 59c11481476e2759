"""`bot worker` as a child process of a benchmark: started with the env of a loopback stack,
watched until it is up, its peak RSS read from /proc, stopped with SIGINT like Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app.devserver import DevServer
    from tests.fakehub import FakeHub
    from tests.fakes import ScriptedModel

READY_LINE = "bot is up"


def bot_executable() -> Path:
    """The `bot` console script beside the running interpreter (the venv's)."""
    candidate = Path(sys.executable).parent / "bot"
    if not candidate.is_file():
        raise RuntimeError(f"{candidate} is missing: install the project (pip install -e .)")
    return candidate


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_file: Path) -> None:
        self.env = env
        self.log_file = log_file
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the worker is not running")
        return self._process.pid

    async def start(self, timeout: float = 30.0) -> None:
        env = {
            name: value
            for name, value in os.environ.items()
            if name in ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "TMPDIR")
        }
        env |= self.env
        with self.log_file.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                str(bot_executable()),
                "worker",
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while READY_LINE not in self.log_file.read_text(errors="replace"):
            if self._process.returncode is not None or loop.time() > deadline:
                raise RuntimeError(f"bot worker did not come up:\n{self.log_tail()}")
            await asyncio.sleep(0.02)

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process ever had."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
        raise RuntimeError("no VmHWM in /proc status")

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self, grace: float = 15.0) -> int | None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGINT)
        try:
            return await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            return await process.wait()


def worker_env(
    hub: FakeHub,
    model: ScriptedModel,
    devserver: DevServer,
    task_queue: str,
    webhook_secret: str,
    tmp: Path,
) -> dict[str, str]:
    """The settings of a `bot worker` against the loopback stack (bot/app/settings.py names)."""
    return {
        "TEMPORAL_ADDRESS": devserver.address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "GITHUB_APP_ID": str(hub.app_id),
        "GITHUB_PRIVATE_KEY": hub.private_key_pem,
        "GITHUB_WEBHOOK_SECRET": webhook_secret,
        "GITHUB_API_URL": hub.base_url,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": model.base_url,
        "BOT_DATA_DIR": str(tmp / "worker-data"),
    }

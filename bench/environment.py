"""What the environment phase costs: a fixture project with ten test dependencies from the local
package index (plus the project itself, editable), set up cold and warm (cached), and the wall
time of a whole run with each, against the same run of a repository with nothing to set up,
all in one process on one stack (fakehub, the scripted model with fixed latencies, a Temporal
dev server, an in-process worker, bwrap, the egress proxy).

The two repositories have the same code and tests (stdlib unittest, so the run without an
environment passes too); the environment's repository adds a pyproject.toml whose test extra
names the ten packages. `warm_added_s` is what a cached environment adds to a run (under 1 s
is the target); `cold_added_s` what a first build adds. A warm-up run first keeps the worker's
one-time costs out of the figures; the runs with nothing to set up and with a warm environment
alternate `--repeats` times and their medians are compared (a loaded machine is noisy), with
where the difference goes: the activities' durations from the run's Temporal history.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench.loopback import start_loopback
from bench.orchestrate_scripts import plan_script
from bench.run_profile import activity_spans, history
from bot.activities.environment import Environments
from bot.activities.inputs import EnvironmentSpec
from bot.app.temporal import connect
from bot.core.plan import PLAN_TOOL_NAME
from bot.core.repo_config import RepoConfig
from bot.core.targets import CommentKind, RepoRef, Target
from bot.git.mirror import MirrorCache
from bot.github.forge import GitHubForge
from bot.workflows.shared import RunProgress
from tests.fakehub import FakeHub
from tests.fakehub.gitrepo import git
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.environments import local_environment
from tests.support.installed_wheels import PYTEST_DISTS, installed_wheel
from tests.support.project import create
from tests.support.pyindex import BENCH_DISTS, FIXTURE_BACKEND, PackageIndex
from tests.support.runstack import OWNER, RunStack, run_stack
from tests.support.stack import github_app

TEST_COMMAND = "python -m unittest discover -s tests -t ."
CODE = {
    "benchapp.py": "def answer() -> int:\n    return 42\n",
    "tests/__init__.py": "",
    "tests/test_app.py": (
        "import unittest\n\nfrom benchapp import answer\n\n\n"
        "class AnswerTest(unittest.TestCase):\n"
        "    def test_answer(self) -> None:\n        self.assertEqual(answer(), 42)\n"
    ),
    ".github/orchestrate.yml": f"test_command: {TEST_COMMAND}\n",
}
DEPENDENCIES = ", ".join(f'"{dist.name}"' for dist in BENCH_DISTS)
PYPROJECT = f"""\
[build-system]
requires = ["{FIXTURE_BACKEND.name}"]
build-backend = "orchestrate_fixture_backend"

[project]
name = "benchapp"
version = "0.1.0"

[project.optional-dependencies]
test = [{DEPENDENCIES}]
"""


def _agent(turns: int, latency: float, note: str) -> list[Turn]:
    work = [Turn(tool_calls=[create("NOTES.md", f"{note}\n")], latency=latency)]
    work += [
        Turn(tool_calls=[ToolCall("search", {"pattern": "answer"})], latency=latency)
        for _ in range(max(0, turns - 2))
    ]
    return [*work, Turn(text="Added NOTES.md.", latency=latency)]


ACTIVITIES = ("prepare_environment", "run_agent", "run_tests")


class EnvironmentBench:
    def __init__(self, model: ScriptedModel, args: argparse.Namespace) -> None:
        self.model, self.args = model, args

    async def activity_seconds(self, stack: RunStack, issue: int) -> dict[str, float]:
        """How long each of the run's activities took (scheduled to closed), by name."""
        events = await history(stack.run_handle(issue))
        seconds: dict[str, float] = defaultdict(float)
        for span in activity_spans(events, 0.0):
            if span.name in ACTIVITIES:
                seconds[span.name] += span.closed - span.scheduled
        return {name: seconds[name] for name in ACTIVITIES}

    async def run_once(self, stack: RunStack, issue: int) -> tuple[float, RunProgress]:
        """One run on `stack`'s repository, from the command to its end."""
        args = self.args
        if issue != 1:
            stack.hub.add_issue(OWNER, stack.repo, issue, f"Task {issue}", "Add a note.")
        plan = plan_script(args.plan_latency)[0]
        assert isinstance(plan, Turn)
        plan.tool_calls[0].input |= {
            "subtasks": [plan.tool_calls[0].input["subtasks"][0] | {"files": ["NOTES.md"]}],
            "test_command": TEST_COMMAND,
            "fewer_agents_reason": "one file",
        }
        self.model.add_script(PLAN_TOOL_NAME, [plan])
        self.model.add_script("implement", _agent(args.turns, args.turn_latency, f"{issue}"))
        started = time.monotonic()
        await stack.command("/orchestrate add a note", issue=issue)
        progress = await stack.finished_run(issue, timeout=600)
        wall = time.monotonic() - started
        if progress.state != "done" or [r.passed for r in progress.rounds] != [True]:
            raise RuntimeError(f"run {issue} ended {progress.state!r}: {progress.rounds}")
        return wall, progress


async def _setup_alone(hub: FakeHub, stack: RunStack, data: Path, index: PackageIndex) -> Any:
    """The environment of the stack's repository set up outside any run: cold, then warm."""
    forge = GitHubForge(github_app(hub))
    environments = Environments(forge, MirrorCache(data / "git"), local_environment(data, index))
    repo = hub.repo(OWNER, stack.repo)
    target = Target(
        installation_id=repo.installation_id,
        repo=RepoRef(id=stack.repo_id, owner=OWNER, name=stack.repo),
        issue_number=1,
        comment_kind=CommentKind.ISSUE,
        comment_id=1,
    )
    revision = git(repo.bare, "rev-parse", "main").strip()
    spec = EnvironmentSpec.of(target, RepoConfig(), revision=revision)
    reports = []
    for _ in range(2):
        started = time.monotonic()
        async with environments.ensure(spec) as prepared:
            reports.append((time.monotonic() - started, prepared.report))
    return reports


async def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench environment")
    parser.add_argument("--turns", type=int, default=3, help="model turns of the agent")
    parser.add_argument("--turn-latency", type=float, default=0.5, help="seconds per turn")
    parser.add_argument("--plan-latency", type=float, default=0.5, help="seconds of the plan")
    parser.add_argument("--repeats", type=int, default=3, help="warm and bare runs, alternating")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-environment-") as tmp_name:
        tmp = Path(tmp_name)
        async with contextlib.AsyncExitStack() as stack:
            index = PackageIndex(
                [FIXTURE_BACKEND, *BENCH_DISTS], [installed_wheel(n) for n in PYTEST_DISTS]
            )
            index.start()
            stack.callback(index.stop)
            loop = await start_loopback(stack, tmp)
            client = await connect(loop.devserver.address)
            return await _measure(client, loop.hub, loop.model, index, tmp, args)
    raise AssertionError("unreachable")


async def _measure(
    client: Client,
    hub: FakeHub,
    model: ScriptedModel,
    index: PackageIndex,
    tmp: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    bench = EnvironmentBench(model, args)
    data = tmp / "worker"
    options = local_environment(data, index)
    env_files = {**CODE, "pyproject.toml": PYPROJECT}
    # One worker per task queue (the SDK allows one per queue and process), both on one disk.
    async with (
        run_stack(
            hub, client, "bench-plain", "plain", model, data, files=CODE, environment=options
        ) as plain,
        run_stack(
            hub, client, "bench-env", "withenv", model, data, files=env_files, environment=options
        ) as env,
    ):
        await bench.run_once(plain, 1)  # warm-up: the worker's first run
        downloads = len(index.downloads)
        wall_cold, cold = await bench.run_once(env, 1)
        cold_downloads = len(index.downloads) - downloads
        walls, seconds = await _alternate(bench, plain, env)
        warm_downloads = len(index.downloads) - downloads - cold_downloads
        (cold_s, cold_report), (warm_s, warm_report) = await _setup_alone(
            hub, env, tmp / "alone", index
        )
    none_s, warm_run_s = statistics.median(walls["none"]), statistics.median(walls["warm"])
    return {
        "benchmark": "environment",
        "dependencies": len(BENCH_DISTS),
        "wheels_downloaded_cold": cold_downloads,
        "wheels_downloaded_warm": warm_downloads,
        "detected": cold_report.description,
        "setup_cold_s": round(cold_s, 3),
        "setup_warm_s": round(warm_s, 3),
        "setup_statuses": [cold_report.status.value, warm_report.status.value],
        "status_line_cold": cold.environment,
        "run_wall_cold_s": round(wall_cold, 3),
        "run_wall_warm_s": [round(w, 3) for w in walls["warm"]],
        "run_wall_nothing_to_set_up_s": [round(w, 3) for w in walls["none"]],
        "cold_added_s": round(wall_cold - none_s, 3),
        "warm_added_s": round(warm_run_s - none_s, 3),
        # Medians of each activity's duration (prepare_environment runs in both: with nothing
        # to set up it only reads the commit's top-level files).
        "activity_s": {kind: _medians(runs) for kind, runs in seconds.items()},
        "warm_adds_under_1s": warm_run_s - none_s < 1.0,
        "agent_turns": args.turns,
        "turn_latency_s": args.turn_latency,
        "plan_latency_s": args.plan_latency,
        "repeats": args.repeats,
    }


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: round(statistics.median(r[name] for r in runs), 3) for name in ACTIVITIES}


async def _alternate(
    bench: EnvironmentBench, plain: RunStack, env: RunStack
) -> tuple[dict[str, list[float]], dict[str, list[dict[str, float]]]]:
    """Runs with nothing to set up and with the warm environment, alternating: their walls
    and their activities' durations."""
    walls: dict[str, list[float]] = {"none": [], "warm": []}
    seconds: dict[str, list[dict[str, float]]] = {"none": [], "warm": []}
    for repeat in range(bench.args.repeats):
        issue = 10 + 10 * repeat
        for kind, stack, expected in (
            ("none", plain, "nothing to set up"),
            ("warm", env, "cached"),
        ):
            wall, progress = await bench.run_once(stack, issue)
            if progress.environment != expected:
                raise RuntimeError(f"{kind} run: environment {progress.environment!r}")
            walls[kind].append(wall)
            seconds[kind].append(await bench.activity_seconds(stack, issue))
    return walls, seconds

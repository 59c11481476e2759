"""`bot run --repo PATH "task"`: the same run workflow against a local repository, no GitHub.

The repository's own directory is the git remote; the plan and the pull request body are
printed; each agent's progress is shown live from the workflow's `progress` query.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from temporalio.client import Client

from bot.activities.environment import EnvironmentOptions
from bot.activities.github import ForgeActivities
from bot.agents.model import ModelClient
from bot.app.local_forge import LocalForge
from bot.app.worker import build_run_worker, run_activities, sweep_after_crashes
from bot.core.commands import Command, CommandKind
from bot.core.targets import CommentKind, RepoRef
from bot.workflows.run import RunWorkflow
from bot.workflows.shared import CommandRequest, RunProgress

POLL_SECONDS = 0.25


def local_request(repo: Path, task: str, issue_number: int = 0) -> CommandRequest:
    return CommandRequest(
        delivery_id="local",
        installation_id=0,
        repo=RepoRef(id=0, owner="local", name=repo.resolve().name),
        issue_number=issue_number,
        is_pull_request=False,
        issue_title=task.splitlines()[0][:200] if task else "",
        issue_body="",
        comment_id=0,
        comment_kind=CommentKind.ISSUE,
        commenter="local",
        command=Command(kind=CommandKind.RUN, task=task, task_chars=len(task)),
    )


class ProgressPrinter:
    """Prints what changed in a run's progress since the last poll."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._seen: dict[str, str] = {}

    def show(self, progress: RunProgress) -> None:
        entries = {"run": progress.state}
        if progress.environment:
            entries["environment"] = progress.environment
        for role, line in progress.lines.items():
            entries[role] = f"{line.status.value}, {line.turns} turns, {line.tokens:,} tokens"
        for test in progress.rounds:
            verdict = "passed" if test.passed else f"failed (exit {test.exit_code})"
            entries[f"tests round {test.round}"] = verdict
        for name, text in entries.items():
            if self._seen.get(name) != text:
                self._seen[name] = text
                print(f"[{name}] {text}", file=self.out, flush=True)


async def run_locally(
    client: Client,
    repo: Path,
    task: str,
    *,
    model: ModelClient,
    data_dir: Path,
    out: TextIO = sys.stdout,
    emit: Callable[[str, str], None] | None = None,
    environment: EnvironmentOptions | None = None,
) -> tuple[RunProgress, LocalForge]:
    def default_emit(kind: str, text: str) -> None:
        title = {"comment": "PLAN", "pull": "PULL REQUEST"}.get(kind, kind.upper())
        print(f"\n===== {title} =====\n{text}\n", file=out, flush=True)

    forge = LocalForge(repo.resolve(), emit=emit or default_emit)
    task_queue = f"bot-run-{uuid.uuid4().hex[:12]}"
    await sweep_after_crashes(data_dir, environment)
    activities = ForgeActivities(forge).activities() + run_activities(
        client, forge, model, data_dir, environment=environment
    )
    worker = build_run_worker(client, task_queue, activities)
    printer = ProgressPrinter(out)
    async with worker:
        handle = await client.start_workflow(
            RunWorkflow.run,
            local_request(repo, task),
            id=f"orchestrate-local-{uuid.uuid4().hex[:12]}",
            task_queue=task_queue,
        )
        result = asyncio.ensure_future(handle.result())
        while not result.done():
            printer.show(await handle.query(RunWorkflow.progress))
            await asyncio.wait([result], timeout=POLL_SECONDS)
        progress = result.result()
        printer.show(progress)
    return progress, forge

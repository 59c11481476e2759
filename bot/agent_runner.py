"""One agent's turn of work inside an activity: a private worktree of the scratch branch, the
tool-use loop, one commit with its trailer, and a push that hands rebase conflicts back to it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError

from bot.agents.context import SharedContext
from bot.agents.fs_tools import DEFAULT_DENIED_WRITE_GLOBS, glob_matches
from bot.agents.loop import AgentBudget, AgentSpec, LoopOutcome, TurnInfo, run_agent
from bot.agents.model import ModelClient
from bot.agents.toolbox import Toolbox
from bot.errors import GitError, MemoryRefused, RebaseConflict
from bot.forge import Remote
from bot.gitops import MirrorCache, Worktree, open_worktree
from bot.memory import Memory, MemoryWrite, Note
from bot.run_io import AgentInput, AgentProgress
from bot.run_models import AgentResult, AgentStatus, Usage

MAX_CONFLICT_ROUNDS = 3
HEARTBEAT_SECONDS = 1.0  # local and cheap; the worker batches what it sends


class WorkflowMemory:
    """The run's shared memory, held by the run workflow and reached through its updates.

    Each turn's progress report answers with the memory; the next read uses that answer
    instead of another round trip.
    """

    def __init__(self, client: Client, workflow_id: str) -> None:
        self._handle = client.get_workflow_handle(workflow_id)
        self._latest: Memory | None = None

    async def report_turn(self, progress: AgentProgress) -> None:
        self._latest = await self._handle.execute_update("agent_turn", progress, result_type=Memory)

    async def read(self) -> Memory:
        latest, self._latest = self._latest, None
        if latest is not None:
            return latest
        memory: Memory = await self._handle.execute_update("read_memory", result_type=Memory)
        return memory

    async def write(self, write: MemoryWrite) -> Note:
        try:
            note: Note = await self._handle.execute_update("write_memory", write, result_type=Note)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise MemoryRefused(str(getattr(cause, "message", None) or cause or exc)) from exc
        return note


@dataclass
class AgentRunner:
    cache: MirrorCache
    remote: Remote
    model: ModelClient
    client: Client
    path: Path

    async def run(self, params: AgentInput) -> AgentResult:
        started = activity.info().started_time.isoformat() if activity.in_activity() else ""
        tree = await open_worktree(self.cache, self.remote, params.branch, self.path)
        ticker = asyncio.create_task(_keep_alive())
        try:
            return await self._work(params, tree, started)
        finally:
            ticker.cancel()
            with contextlib.suppress(GitError):
                await tree.remove()
            shutil.rmtree(self.path, ignore_errors=True)

    async def _work(self, params: AgentInput, tree: Worktree, started: str) -> AgentResult:
        memory = WorkflowMemory(self.client, params.run_workflow_id)
        model_name = params.config.models.for_role(params.role)
        budget = AgentBudget(
            max_turns=params.config.budget.agent_turns,
            max_tokens=params.config.budget.agent_tokens,
            max_seconds=params.config.budget.agent_minutes * 60,
        )
        shared = SharedContext.build(params.plan, params.repo_summary, params.config)
        toolbox = Toolbox(
            tree.path,
            memory,
            allowed_write_globs=params.config.paths.get(params.role),
            allow_workflow_edits=params.config.allow_workflow_edits,
        )
        usage = Usage()
        turns = 0

        async def on_turn(info: TurnInfo) -> None:
            activity.heartbeat(info.turn)
            progress = AgentProgress(
                role=params.role,
                round=params.round,
                turns=turns + info.turn,
                tokens=usage.total + info.usage.total,
            )
            await memory.report_turn(progress)

        spec = AgentSpec(
            role=params.role,
            model=model_name,
            shared=shared,
            subtask=params.plan.subtask(params.role),
            feedback=params.feedback,
        )
        outcome = await run_agent(spec, self.model, toolbox, memory, budget=budget, on_turn=on_turn)
        usage, turns = usage + outcome.usage, turns + outcome.turns
        # The agent's `run` commands wrote here: no nested repository may meet host git.
        await tree.remove_nested_repos()
        commits: list[str] = []
        refused = await _discard_refused(tree, params)
        message = _commit_message(params, outcome, refused)
        sha = await tree.commit_all(message, params.role.value)
        if sha is not None:
            for conflict_round in range(MAX_CONFLICT_ROUNDS + 1):
                try:
                    if await tree.rebase_in_progress():
                        await tree.continue_rebase()
                    await tree.push()
                    break
                except RebaseConflict as conflict:
                    if conflict_round == MAX_CONFLICT_ROUNDS:
                        await tree.abort_rebase()
                        raise GitError(f"could not resolve conflicts in {conflict.files}") from None
                    resolution = await run_agent(
                        spec.for_conflict(conflict.files),
                        self.model,
                        toolbox,
                        memory,
                        budget=budget,
                        on_turn=on_turn,
                    )
                    usage, turns = usage + resolution.usage, turns + resolution.turns
                    await tree.remove_nested_repos()
            commits.append(await tree.head())
        return AgentResult(
            role=params.role.value,
            round=params.round,
            status=outcome.status,
            model=model_name,
            turns=turns,
            usage=usage,
            commits=commits,
            summary=outcome.summary,
            stop_reason=outcome.stop_reason,
            started_at=started,
            ended_at="",
        )


async def _discard_refused(tree: Worktree, params: AgentInput) -> list[str]:
    """Changes the agent may not commit, whatever made them (the editor refuses them, but a
    `run` command can write anywhere in the worktree): workflow files unless the repository
    allows them (a push would be rejected without the workflows permission), and paths outside
    the role's write globs. They are dropped before committing and named in the message."""
    allowed = params.config.paths.get(params.role)
    refused = []
    for path in await tree.changed_files():
        workflow_file = not params.config.allow_workflow_edits and any(
            glob_matches(glob, path) for glob in DEFAULT_DENIED_WRITE_GLOBS
        )
        outside = allowed is not None and not any(glob_matches(glob, path) for glob in allowed)
        if workflow_file or outside:
            refused.append(path)
    await tree.discard(refused)
    return refused


def _commit_message(params: AgentInput, outcome: LoopOutcome, refused: list[str]) -> str:
    first = next((line.strip() for line in outcome.summary.splitlines() if line.strip()), "")
    subject = f"{params.role.value}: {first or 'changes'}"
    if len(subject) > 72:
        subject = subject[:71] + "…"
    status = "" if outcome.status is AgentStatus.DONE else f"\n\nStopped: {outcome.stop_reason}"
    dropped = f"\n\nNot committed (not allowed): {', '.join(refused)}" if refused else ""
    return f"{subject}\n\nRound {params.round} of the orchestrated run.{status}{dropped}"


async def _keep_alive() -> None:
    """Heartbeat while a long model call or command is in flight (cancellation arrives here)."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_SECONDS)

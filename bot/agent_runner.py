"""One agent's turn of work inside an activity: a private worktree of the scratch branch, the
tool-use loop, one commit with its trailer, and a push that hands rebase conflicts back to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError

from bot.agents.context import SharedContext
from bot.agents.loop import AgentBudget, AgentSpec, LoopOutcome, TurnInfo, run_agent
from bot.agents.model import ModelClient
from bot.agents.toolbox import Toolbox
from bot.core.commit_policy import Refusal, WritePolicy, denied_globs, reportable
from bot.core.memory import Memory, MemoryWrite, Note, check_write
from bot.core.plan import Role
from bot.core.remote import Remote
from bot.core.repo_config import RepoConfig
from bot.core.results import AgentResult, AgentStatus
from bot.core.usage import Usage
from bot.errors import GitError, MemoryRefused, RebaseConflict
from bot.git.mirror import MirrorCache
from bot.git.refs import push
from bot.git.worktree import Worktree, open_worktree, remove_worktree
from bot.render import commit as commit_text
from bot.run_io import AgentInput, AgentProgress

log = logging.getLogger(__name__)

MAX_CONFLICT_ROUNDS = 3
HEARTBEAT_SECONDS = 1.0  # local and cheap; the worker batches what it sends
MEMORY_RPC_TIMEOUT = timedelta(seconds=30)


class WorkflowMemory:
    """The run's shared memory, held by the run workflow and reached through its updates.

    Each turn's progress report answers with the memory; the next read uses that answer
    instead of another round trip. The memory is a convenience to the agents, so no failure
    to reach it ends an agent (let alone the run): a failed write is a refusal the agent reads
    as a tool error, a failed read or report leaves the agent with the memory it last saw.
    """

    def __init__(self, client: Client, workflow_id: str) -> None:
        self._handle = client.get_workflow_handle(workflow_id)
        self._latest: Memory | None = None
        self._known = Memory()  # the last memory an update answered with

    async def report_turn(self, progress: AgentProgress) -> None:
        try:
            self._latest = await self._handle.execute_update(
                "agent_turn", progress, result_type=Memory, rpc_timeout=MEMORY_RPC_TIMEOUT
            )
        except Exception:  # progress is for the checklist; the work goes on without it
            log.warning("reporting a turn to %s failed", self._handle.id, exc_info=True)

    async def read(self) -> Memory:
        latest, self._latest = self._latest, None
        if latest is None:
            try:
                latest = await self._handle.execute_update(
                    "read_memory", result_type=Memory, rpc_timeout=MEMORY_RPC_TIMEOUT
                )
            except Exception:
                log.warning("reading the memory of %s failed", self._handle.id, exc_info=True)
                return self._known
        self._known = latest
        return latest

    async def write(self, write: MemoryWrite) -> Note:
        """Store `write`, or raise MemoryRefused whatever went wrong."""
        check_write(write)  # an oversized update would fail the workflow's task, not the update
        try:
            note: Note = await self._handle.execute_update(
                "write_memory", write, result_type=Note, rpc_timeout=MEMORY_RPC_TIMEOUT
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise MemoryRefused(str(getattr(cause, "message", None) or cause or exc)) from exc
        except Exception as exc:
            log.warning("writing to the memory of %s failed", self._handle.id, exc_info=True)
            raise MemoryRefused(
                "The shared memory could not be reached; nothing was saved."
            ) from exc
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
                await remove_worktree(self.cache, tree)
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
        toolbox = Toolbox(tree.path, memory, policy=write_policy(params.config, params.role))
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
        # The agent's `run` commands wrote here: stage_screened removes (and reports) nested
        # repositories first, and every later host git command removes any again.
        commits: list[str] = []
        policy = write_policy(params.config, params.role)
        refused = await tree.stage_screened(policy)
        message = _commit_message(params, outcome, refused)
        sha = await tree.commit_staged(message, params.role.value)
        if sha is not None:
            for conflict_round in range(MAX_CONFLICT_ROUNDS + 1):
                try:
                    if await tree.rebase_in_progress():
                        # The resolving agent could write anything again: screen it too.
                        refused += await tree.stage_screened(policy)
                        await tree.continue_rebase()
                    await push(self.cache, tree)
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
            commits.append(await tree.head())
        return AgentResult(
            role=params.role.value,
            round=params.round,
            status=outcome.status,
            model=model_name,
            turns=turns,
            usage=usage,
            commits=commits,
            refused=reportable(refused),
            summary=outcome.summary,
            stop_reason=outcome.stop_reason,
            started_at=started,
            ended_at="",
        )


def write_policy(config: RepoConfig, role: Role) -> WritePolicy:
    """What an agent of `role` may commit, whatever wrote it (the editor refuses the same, but a
    `run` command can write anywhere in the worktree): see bot/commit_policy.py."""
    allowed = config.paths.get(role)
    return WritePolicy(
        allowed_globs=tuple(allowed) if allowed is not None else None,
        denied_globs=denied_globs(allow_workflow_edits=config.allow_workflow_edits),
        allow_submodules=config.allow_submodules,
        max_file_bytes=config.max_file_bytes,
        max_commit_bytes=config.max_commit_bytes,
    )


def _commit_message(params: AgentInput, outcome: LoopOutcome, refused: list[Refusal]) -> str:
    """Built by the app: the model's summary enters only as plain words (bot/commit_text.py)."""
    return commit_text.message(
        role=params.role.value,
        round_number=params.round,
        text=outcome.summary,
        stopped=None if outcome.status is AgentStatus.DONE else outcome.stop_reason,
        refused=[(r.path, r.reason) for r in refused],
    )


async def _keep_alive() -> None:
    """Heartbeat while a long model call or command is in flight (cancellation arrives here)."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_SECONDS)

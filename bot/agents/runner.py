"""One agent's turn of work in a worktree of the scratch branch: the tool-use loop, one commit
with its trailer (only what the write policy accepts), and a push that hands rebase conflicts
back to the agent.

No Temporal here: the activity (activities/agent.py) opens the worktree, keeps the heartbeat
going, and injects the run's memory and progress reporting (`RunLink`) and the heartbeat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.agents.limits import AgentBudget
from bot.agents.loop import AgentSpec, LoopOutcome, TurnInfo, run_agent
from bot.agents.model import ModelClient
from bot.agents.ports import MemoryPort
from bot.agents.prompt import SharedContext
from bot.agents.tools.box import Toolbox
from bot.core.commit_policy import Refusal, WritePolicy, reportable
from bot.core.plan import Plan, Role
from bot.core.repo_config import RepoConfig, write_policy
from bot.core.results import AgentProgress, AgentResult, AgentStatus
from bot.core.usage import Usage
from bot.errors import GitError, RebaseConflict
from bot.git.mirror import MirrorCache
from bot.git.refs import push
from bot.git.worktree import Worktree
from bot.render import commit
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment

MAX_CONFLICT_ROUNDS = 3


class RunLink(MemoryPort, Protocol):
    """The run an agent works for: its shared memory, and where each turn's progress goes
    (reporting is best effort: it never raises)."""

    async def report_turn(self, progress: AgentProgress) -> None: ...


@dataclass(frozen=True)
class AgentTask:
    """What one agent activity is asked to do."""

    role: Role
    round: int
    plan: Plan
    repo_summary: str
    config: RepoConfig
    feedback: str = ""


@dataclass
class AgentRunner:
    model: ModelClient
    cache: MirrorCache  # where pushes go from
    link: RunLink
    heartbeat: Callable[[int], None] = lambda turn: None

    async def run(
        self, task: AgentTask, tree: Worktree, environment: SandboxEnvironment = NO_ENVIRONMENT
    ) -> AgentResult:
        """`environment`: the repository's, for the agent's `run` commands (read-only)."""
        policy = write_policy(task.config, task.role)
        spec = AgentSpec(
            role=task.role,
            model=task.config.models.for_role(task.role),
            shared=SharedContext.build(task.plan, task.repo_summary, task.config),
            subtask=task.plan.subtask(task.role),
            feedback=task.feedback,
        )
        toolbox = Toolbox(tree.path, self.link, policy=policy, environment=environment)
        session = _Session(self, task, toolbox)
        outcome = await session.loop(spec)
        # The agent's `run` commands wrote here: stage_screened removes (and reports) nested
        # repositories first, and every later host git command removes any again.
        refused = await tree.stage_screened(policy)
        message = _commit_message(task, outcome, refused)
        commits: list[str] = []
        if await tree.commit_staged(message, task.role.value) is not None:
            refused += await self._push(tree, policy, session, spec)
            commits.append(await tree.head())
        return AgentResult(
            role=task.role.value,
            round=task.round,
            status=outcome.status,
            model=spec.model,
            turns=session.turns,
            usage=session.usage,
            commits=commits,
            refused=reportable(refused),
            summary=outcome.summary,
            stop_reason=outcome.stop_reason,
        )

    async def _push(
        self, tree: Worktree, policy: WritePolicy, session: _Session, spec: AgentSpec
    ) -> list[Refusal]:
        """Push the commit; on a rebase conflict, the agent resolves it (a few times at most).
        Returns what the write policy refused in the resolutions."""
        refused: list[Refusal] = []
        for conflict_round in range(MAX_CONFLICT_ROUNDS + 1):
            try:
                if await tree.rebase_in_progress():
                    # The resolving agent could write anything again: screen it too.
                    refused += await tree.stage_screened(policy)
                    await tree.continue_rebase()
                await push(self.cache, tree)
                return refused
            except RebaseConflict as conflict:
                if conflict_round == MAX_CONFLICT_ROUNDS:
                    await tree.abort_rebase()
                    raise GitError(f"could not resolve conflicts in {conflict.files}") from None
                await session.loop(spec.for_conflict(conflict.files))
        return refused


@dataclass
class _Session:
    """The agent's conversations of one activity (its work, then any conflict resolutions),
    with the turns and tokens they used between them."""

    runner: AgentRunner
    task: AgentTask
    toolbox: Toolbox
    usage: Usage = field(default_factory=Usage)
    turns: int = 0

    async def loop(self, spec: AgentSpec) -> LoopOutcome:
        config = self.task.config
        budget = AgentBudget(
            max_turns=config.budget.agent_turns,
            max_tokens=config.budget.agent_tokens,
            max_seconds=config.budget.agent_minutes * 60,
        )
        runner = self.runner
        outcome = await run_agent(
            spec, runner.model, self.toolbox, runner.link, budget=budget, on_turn=self._on_turn
        )
        self.usage, self.turns = self.usage + outcome.usage, self.turns + outcome.turns
        return outcome

    async def _on_turn(self, info: TurnInfo) -> None:
        self.runner.heartbeat(info.turn)
        progress = AgentProgress(
            role=self.task.role,
            round=self.task.round,
            turns=self.turns + info.turn,
            tokens=self.usage.total + info.usage.total,
        )
        await self.runner.link.report_turn(progress)


def _commit_message(task: AgentTask, outcome: LoopOutcome, refused: list[Refusal]) -> str:
    """Built by the app: the model's summary enters only as plain words (render/commit.py)."""
    return commit.message(
        role=task.role.value,
        round_number=task.round,
        text=outcome.summary,
        stopped=None if outcome.status is AgentStatus.DONE else outcome.stop_reason,
        refused=[(r.path, r.reason) for r in refused],
    )

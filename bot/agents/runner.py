"""One agent's work in a worktree of the scratch branch: the tool-use loop, one commit with its
trailers (only what the write policy accepts), pushed to the agent's own branch; and, in
conflict mode, the same agent resolving the rebase of that commit onto the scratch branch, the
resolution pushed to a new branch of its own. Landing on the scratch branch is not done here
(activities/land.py): nothing an agent did waits on another agent's push.

A model that still fails after its retries stops the agent (status FAILED, the reason kept):
what it wrote until then is committed like a budget stop's, never dropped. A commit that could
not be pushed after the push's own retries fails the agent too, saying so (a retry of the whole
activity would pay for the same conversation again).

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
from bot.agents.retry import DEFAULT_RETRY, ModelRetry
from bot.agents.tools.box import Toolbox
from bot.core.commit_policy import Refusal, WritePolicy, reportable
from bot.core.plan import Plan, Role
from bot.core.repo_config import RepoConfig, write_policy
from bot.core.results import AgentProgress, AgentResult, AgentStatus
from bot.core.usage import Usage
from bot.errors import GitError, ModelError, RebaseConflict
from bot.git.mirror import MirrorCache
from bot.git.refs import push_to_own_branch
from bot.git.worktree import Worktree
from bot.render import commit
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment

MAX_CONFLICT_ROUNDS = 3
# What an agent's result carries of the model's words (it travels in Temporal payloads).
MAX_SUMMARY_CHARS = 8_000
MAX_STOP_REASON_CHARS = 200


class RunLink(MemoryPort, Protocol):
    """The run an agent works for: its shared memory, and where each turn's progress goes
    (reporting is best effort: it never raises)."""

    async def report_turn(self, progress: AgentProgress) -> None: ...


@dataclass(frozen=True)
class AgentTask:
    """What one agent activity is asked to do. `key` is its commit's Orchestrate-Task trailer,
    `branch` the branch of its own its commit is pushed to; `conflict` > 0: the n-th
    resolution of its commit's conflicts with the scratch branch."""

    role: Role
    round: int
    plan: Plan
    repo_summary: str
    config: RepoConfig
    feedback: str = ""
    key: str | None = None
    branch: str = ""
    attempt: int = 1
    conflict: int = 0


@dataclass
class AgentRunner:
    model: ModelClient
    cache: MirrorCache  # where pushes go from
    link: RunLink
    heartbeat: Callable[[int], None] = lambda turn: None
    retry: ModelRetry = DEFAULT_RETRY

    async def run(
        self, task: AgentTask, tree: Worktree, environment: SandboxEnvironment = NO_ENVIRONMENT
    ) -> AgentResult:
        """The agent's work on `tree` (at the scratch head), committed and pushed to
        `task.branch`; no commit when it changed nothing. `environment`: the repository's,
        for the agent's `run` commands (read-only)."""
        session = _Session(self, task, tree, environment)
        outcome = await session.loop(session.spec)
        # The agent's `run` commands wrote here: stage_screened removes (and reports) nested
        # repositories first, and every later host git command removes any again.
        refused = await tree.stage_screened(session.policy)
        message = _commit_message(task, outcome, refused)
        if await tree.commit_staged(message, task.role.value, task.key) is None:
            return await session.result(outcome, refused, "")
        return await self._pushed(session, outcome, refused)

    async def resolve(
        self, task: AgentTask, tree: Worktree, environment: SandboxEnvironment = NO_ENVIRONMENT
    ) -> AgentResult:
        """Rebase `tree` (at the agent's earlier commit) onto its branch; the agent resolves
        the conflicts (a few rounds at most), every resolution screened by the write policy;
        the rebased commit goes to `task.branch`. FAILED, with nothing pushed, when it could
        not resolve them."""
        session = _Session(self, task, tree, environment)
        outcome = LoopOutcome(AgentStatus.DONE, 0, Usage(), "end_turn", "")
        refused: list[Refusal] = []
        try:
            await tree.rebase_onto_remote()
        except RebaseConflict as conflict:
            files = conflict.files
            for _ in range(MAX_CONFLICT_ROUNDS):
                outcome = await session.loop(session.spec.for_conflict(files))
                if outcome.status is AgentStatus.FAILED:
                    break
                refused += await tree.stage_screened(session.policy)
                try:
                    await tree.continue_rebase()
                    break
                except RebaseConflict as again:
                    files = again.files
            if await tree.rebase_in_progress():  # not resolved
                await tree.abort_rebase()
                why = f"could not resolve the conflicts in {', '.join(files)}"
                if outcome.status is not AgentStatus.FAILED:
                    outcome = LoopOutcome(AgentStatus.FAILED, 0, Usage(), f"error: {why}", "")
                return await session.result(outcome, refused, "")
        return await self._pushed(session, outcome, refused)

    async def _pushed(
        self, session: _Session, outcome: LoopOutcome, refused: list[Refusal]
    ) -> AgentResult:
        """The result once the worktree's HEAD is on the task's branch; FAILED when the push
        still fails after its retries."""
        try:
            await push_to_own_branch(self.cache, session.tree, session.task.branch)
        except GitError as error:
            why = f"error: its commit could not be pushed: {error}"
            failed = LoopOutcome(AgentStatus.FAILED, 0, Usage(), why, outcome.summary)
            return await session.result(failed, refused, "")
        return await session.result(outcome, refused, session.task.branch)


@dataclass
class _Session:
    """The agent's conversations of one activity, with the turns and tokens they used between
    them (reported to the run after every turn)."""

    runner: AgentRunner
    task: AgentTask
    tree: Worktree
    environment: SandboxEnvironment
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    _last: TurnInfo | None = None  # the running conversation's last turn

    def __post_init__(self) -> None:
        task = self.task
        self.policy: WritePolicy = write_policy(task.config, task.role)
        self.toolbox = Toolbox(
            self.tree.path, self.runner.link, policy=self.policy, environment=self.environment
        )
        self.spec = AgentSpec(
            role=task.role,
            model=task.config.models.for_role(task.role),
            shared=SharedContext.build(task.plan, task.repo_summary, task.config),
            subtask=task.plan.subtask(task.role),
            feedback=task.feedback,
        )

    async def loop(self, spec: AgentSpec) -> LoopOutcome:
        """One conversation; a model that still fails after its retries ends it as FAILED."""
        config, runner = self.task.config, self.runner
        budget = AgentBudget(
            max_turns=config.budget.agent_turns,
            max_tokens=config.budget.agent_tokens,
            max_seconds=config.budget.agent_minutes * 60,
        )
        self._last = None
        try:
            outcome = await run_agent(
                spec, runner.model, self.toolbox, runner.link,
                budget=budget, on_turn=self._on_turn, retry=runner.retry,
            )  # fmt: skip
        except ModelError as error:
            last = self._last or TurnInfo(0, Usage(), "", ())
            files = self.toolbox.files_written
            outcome = LoopOutcome(
                AgentStatus.FAILED, last.turn, last.usage, f"error: {error}", "", files
            )
        self.usage, self.turns = self.usage + outcome.usage, self.turns + outcome.turns
        return outcome

    async def _on_turn(self, info: TurnInfo) -> None:
        self._last = info
        self.runner.heartbeat(info.turn)
        await self.runner.link.report_turn(self._progress(info.turn, info.usage))

    def _progress(self, turns: int, usage: Usage) -> AgentProgress:
        task = self.task
        return AgentProgress(
            role=task.role,
            round=task.round,
            turns=self.turns + turns,
            usage=self.usage + usage,
            attempt=task.attempt,
            conflict=task.conflict,
        )

    async def result(
        self, outcome: LoopOutcome, refused: list[Refusal], branch: str
    ) -> AgentResult:
        head = [await self.tree.head()] if branch else []
        task = self.task
        return AgentResult(
            role=task.role.value,
            round=task.round,
            status=outcome.status,
            model=self.spec.model,
            turns=self.turns,
            usage=self.usage,
            commits=head,
            refused=reportable(refused),
            summary=_capped(outcome.summary, MAX_SUMMARY_CHARS),
            stop_reason=_capped(outcome.stop_reason, MAX_STOP_REASON_CHARS),
            attempt=task.attempt,
            branch=branch,
        )


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _commit_message(task: AgentTask, outcome: LoopOutcome, refused: list[Refusal]) -> str:
    """Built by the app: the model's summary enters only as plain words (render/commit.py)."""
    return commit.message(
        role=task.role.value,
        round_number=task.round,
        text=outcome.summary,
        stopped=None if outcome.status is AgentStatus.DONE else outcome.stop_reason,
        refused=[(r.path, r.reason) for r in refused],
    )

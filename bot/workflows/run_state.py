"""What a run knows while it goes, and the pure rules over it: the plan and memory, the agents'
results and checklist lines, the time spans, the usage and its budget, the status comment's
text and the pull request body.

Pure: no Temporal here (the run workflow passes the time in), so every method is tested
without a server. `changes` counts what the status comment should show; the publisher
(workflows/status.py) edits the comment when it moved on.
"""

from __future__ import annotations

from datetime import datetime

from bot.activities.inputs import EnvironmentSpec, PullInput, RunContext
from bot.core import decisions
from bot.core.environment import EnvironmentReport
from bot.core.ledger import UsageLedger
from bot.core.memory import Memory
from bot.core.plan import Plan, Role
from bot.core.pricing import PriceTable, run_cost
from bot.core.repo_config import RepoConfig
from bot.core.results import (
    AgentLine,
    AgentProgress,
    AgentResult,
    AgentStatus,
    ModelUsage,
    Span,
    TestRound,
)
from bot.core.usage import Usage
from bot.github.models import FollowUp
from bot.render import messages, states
from bot.render.environment import checklist_line, pull_line, status_text
from bot.render.plan_comment import plan_comment
from bot.render.pr_body import agents_failed, pr_body, pr_title
from bot.workflows.shared import CommandRequest, RunProgress


class RunCancelled(Exception):
    """`/orchestrate cancel` arrived: the run stops where it is."""


class RunState:
    def __init__(self, title: str = "") -> None:
        self.title = title
        self.memory = Memory()
        self.progress = RunProgress()
        self.plan: Plan | None = None
        self.approved_by: str | None = None
        self.cancelled_by: str | None = None
        self.follow_up: FollowUp | None = None
        self.results: list[AgentResult] = []
        self.spans: list[Span] = []
        self.ledger = UsageLedger()  # every attempt's usage, as reported
        self.landed_branches: list[str] = []  # per-agent branches whose work is on the branch
        self.prices: PriceTable | None = None
        self.environment: EnvironmentReport | None = None
        self.environment_spec: EnvironmentSpec | None = None  # what the agents' inputs carry
        self.changes = 0

    # -- controls --------------------------------------------------------------------------------

    def approve(self, by: str) -> None:
        self.approved_by = self.approved_by or by

    def cancel(self, by: str) -> None:
        self.cancelled_by = self.cancelled_by or by

    def decided(self) -> bool:
        """Whether someone approved or cancelled the run."""
        return self.approved_by is not None or self.cancelled_by is not None

    # -- the state line and the checklist --------------------------------------------------------

    def set_state(self, state: str) -> None:
        self.progress.state = state
        self.changes += 1

    def start_plan(self, plan: Plan) -> None:
        """The plan is known: every agent of it is queued, and the agents' memory holds it."""
        self.plan = self.memory.plan = plan
        self.progress.lines = {
            role.value: AgentLine(status=AgentStatus.QUEUED) for role in plan.roles
        }

    def agent_started(self, role: Role) -> None:
        self.progress.lines[role.value].status = AgentStatus.RUNNING
        self.changes += 1

    def agent_queued(self, role: Role) -> None:
        self.progress.lines[role.value].status = AgentStatus.QUEUED

    def agent_finished(self, result: AgentResult) -> None:
        """An agent is done with its round: its turns and usage are those of every attempt
        of its work and its conflict resolutions (the ledger's), whatever became of them."""
        self.account(result)
        spent = self.ledger.agent(result.role, result.round)
        self.results.append(result.model_copy(update={"turns": spent.turns, "usage": spent.usage}))
        line = self.progress.lines[result.role]
        line.status = result.status
        self._show_work(line, result.role)
        self.changes += 1

    def record_turn(self, progress: AgentProgress) -> None:
        """A running agent's report after a model turn (its attempt's usage so far)."""
        self.ledger.agent_report(progress)
        line = self.progress.lines.get(progress.role.value)
        if line is not None and line.status is AgentStatus.RUNNING:
            self._show_work(line, progress.role.value)
            self.changes += 1

    def account(self, result: AgentResult, conflict: int = 0) -> None:
        """An agent activity's own result: the last word on its attempt's usage."""
        self.ledger.agent_report(
            AgentProgress(
                role=Role(result.role),
                round=result.round,
                turns=result.turns,
                usage=result.usage,
                attempt=result.attempt,
                conflict=conflict,
            )
        )

    def record_call(self, report: ModelUsage) -> None:
        """A planner's or cache warmer's usage so far (reported after each call, and at its
        end)."""
        self.ledger.call_report(report)

    @property
    def orchestrator(self) -> Usage:
        """The planner's and the cache warmer's calls, every attempt."""
        return self.ledger.orchestrator()

    def _show_work(self, line: AgentLine, role: str) -> None:
        spent = self.ledger.agent(role)
        line.turns, line.tokens = spent.turns, spent.usage.total

    def missing_work(self) -> list[AgentResult]:
        """The agents whose work (of a round) failed: it may be missing from the branch."""
        return [result for result in self.results if result.status is AgentStatus.FAILED]

    def nothing_landed(self) -> tuple[str, str]:
        """No agent's work is on the branch, so there is nothing to open: the state line and
        the comment. A failure naming the agents whose work is missing; else "done: nothing to
        change"."""
        missing = self.missing_work()
        if missing:
            reason = agents_failed(missing)
            return states.failed(reason), messages.run_failed(reason)
        return states.NOTHING_TO_CHANGE, messages.nothing_to_change()

    def mark_unfinished(self, status: AgentStatus) -> None:
        for line in self.progress.lines.values():
            if line.status in (AgentStatus.QUEUED, AgentStatus.RUNNING):
                line.status = status

    def environment_prepared(self, report: EnvironmentReport) -> None:
        self.environment = report
        self.progress.environment = status_text(report)
        self.changes += 1

    def add_round(self, result: TestRound) -> None:
        self.progress.rounds = [*self.progress.rounds, result]

    # -- time and money ----------------------------------------------------------------------

    def span(self, label: str, section: str, start: datetime, end: datetime) -> None:
        self.spans.append(
            Span(label=label, section=section, start=start.isoformat(), end=end.isoformat())
        )

    def budget_reached(self, config: RepoConfig, elapsed_minutes: float) -> str | None:
        """Which run budget (tokens, dollars, minutes) is used up, if any."""
        usage = decisions.total_usage(self.results, self.orchestrator)
        dollars = run_cost(self.results, self.orchestrator, config.models.planner, self.prices)
        return decisions.run_budget_reached(
            tokens_used=usage.total,
            dollars_used=dollars,
            elapsed_minutes=elapsed_minutes,
            tokens=config.budget.tokens,
            dollars=config.budget.dollars,
            minutes=config.budget.minutes,
        )

    # -- what is posted ------------------------------------------------------------------------

    def status_body(self) -> str:
        assert self.plan is not None
        return plan_comment(
            self.plan,
            task_title=self.title,
            states=self.progress.lines,
            run_state=self.progress.state,
            pr_url=self.progress.pr_url or None,
            rounds=self.progress.rounds,
            environment=checklist_line(
                self.environment, preparing=self.progress.state == states.PREPARING_ENVIRONMENT
            ),
        )

    def pull_input(
        self,
        request: CommandRequest,
        context: RunContext,
        config: RepoConfig,
        branch: str,
        attribution_table: str,
        draft_reason: str | None,
    ) -> PullInput:
        """The run's pull request: from the branch into the default branch (a follow-up's own
        base), titled after the issue, described by everything the run recorded."""
        assert self.plan is not None and self.prices is not None
        # Issue numbers start at 1; `bot run` uses 0 for "no issue".
        closes = request.issue_number > 0 and not request.is_pull_request
        body = pr_body(
            plan=self.plan,
            issue_number=request.issue_number if closes else None,
            attribution_table=attribution_table,
            rounds=self.progress.rounds,
            agents=self.results,
            orchestrator=self.orchestrator,
            orchestrator_model=config.models.planner,
            prices=self.prices,
            spans=self.spans,
            memory=self.memory,
            draft_reason=draft_reason,
            environment=pull_line(self.environment),
        )
        return PullInput(
            target=request.target,
            head=branch,
            base=self.follow_up.base if self.follow_up else context.default_branch,
            title=pr_title(self.plan, request.issue_title),
            body=body,
            draft=draft_reason is not None,
        )

    def commits(self) -> list[str]:
        """Every commit the agents pushed, in the order they finished."""
        return [sha for result in self.results for sha in result.commits]

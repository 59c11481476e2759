"""The run workflow: plan → (approval) → agents in parallel → reconcile rounds → one PR.

Deterministic orchestration only: every side effect is an activity. The workflow holds the shared
memory (writes arrive as a Temporal update) and the one status comment it edits in place.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bot.activities.boundary import application_error
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import (
        AgentInput,
        AttributeInput,
        BranchInput,
        PlanInput,
        PostInput,
        PullInput,
        ReactInput,
        RunContext,
        TargetInput,
        TestInput,
        WarmInput,
    )
    from bot.activities.model import ModelActivities
    from bot.activities.repo import RepoActivities
    from bot.activities.tests import SandboxedTests
    from bot.calls import GITHUB_RETRY, github_call
    from bot.core import decisions, results
    from bot.core.memory import Memory, MemoryWrite, Note
    from bot.core.plan import Role
    from bot.core.repo_config import RepoConfig
    from bot.core.results import AgentProgress, AgentStatus, TestRound
    from bot.core.targets import Target
    from bot.errors import MemoryRefused
    from bot.github.models import FollowUp
    from bot.render import messages, states
    from bot.render import pr_body as pr_body_mod
    from bot.run_state import MODEL_RETRY, RunCancelled, RunProgress, RunState
    from bot.shared import CommandRequest


@workflow.defn
class RunWorkflow(RunState):
    # -- signals, queries, updates ---------------------------------------------------------------

    @workflow.signal
    def approve(self, by: str) -> None:
        self._approved_by = self._approved_by or by

    @workflow.signal
    def cancel(self, by: str) -> None:
        self._cancelled_by = self._cancelled_by or by

    @workflow.update
    def agent_turn(self, progress: AgentProgress) -> Memory:
        """An agent finished a model turn: record its progress, answer with the memory (one
        round trip per turn; queries can wait behind a busy workflow task)."""
        line = self._progress.lines.get(progress.role.value)
        if line is not None and line.status is AgentStatus.RUNNING:
            done_turns, done_tokens = self._finished_work(progress.role.value)
            line.turns, line.tokens = done_turns + progress.turns, done_tokens + progress.tokens
            self._dirty = True
        return self._memory

    @workflow.update
    def read_memory(self) -> Memory:
        return self._memory

    @workflow.query
    def link(self) -> str:
        return self._progress.link

    @workflow.query
    def progress(self) -> RunProgress:
        return self._progress

    @workflow.query
    def memory(self) -> Memory:
        return self._memory

    @workflow.update
    def write_memory(self, write: MemoryWrite) -> Note:
        # Only an ApplicationError fails just the update: any other exception from a handler
        # fails the workflow task, and the run would stall on it.
        try:
            return self._memory.apply(write, at=workflow.now().isoformat())
        except MemoryRefused as exc:
            raise application_error(exc) from None

    @write_memory.validator
    def _check_memory_write(self, write: MemoryWrite) -> None:
        # A validator's exception rejects the update (the write is never in history). The
        # writer must bound the payload before sending it: a rejection carries the request.
        self._memory.model_copy(deep=True).apply(write, at="")

    # -- the run ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: CommandRequest) -> RunProgress:
        target = request.target
        started = workflow.now()
        self._title = request.issue_title
        publisher = asyncio.ensure_future(self._publish_status(target))
        failure: Exception | None = None
        # No `finally` with an await here: an evicted workflow is closed with GeneratorExit.
        try:
            await self._run(request, target, started)
        except RunCancelled:
            self._set_state(states.cancelled_state(self._cancelled_by or "someone"))
            self._mark_unfinished(AgentStatus.CANCELLED)
        except Exception as exc:
            failure = exc
            self._set_state(f"failed: {exc}")
            self._mark_unfinished(AgentStatus.FAILED)
        self._closing = True
        await publisher
        self._progress.finished = True
        if failure is not None:
            raise failure
        return self._progress

    async def _run(self, request: CommandRequest, target: Target, started: datetime) -> None:
        context: RunContext = await self._cancellable(
            workflow.execute_activity_method(
                RepoActivities.run_context,
                TargetInput(target=target),
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=GITHUB_RETRY,
            )
        )
        if context.config is None:
            await self._fail(target, context.config_error)
            return
        config = context.config
        self._prices = context.prices
        follow_up: FollowUp | None = None
        if request.is_pull_request:
            follow_up = await github_call(ForgeActivities.follow_up, TargetInput(target=target))
            if follow_up.refusal:
                self._progress.state = f"refused: {follow_up.refusal}"
                await github_call(
                    ForgeActivities.reply, PostInput(target=target, body=follow_up.refusal)
                )
                return
        self._follow_up = follow_up
        task = decisions.task_text(
            request.command.task,
            request.issue_title,
            request.issue_body,
            review_path=request.review_path,
            review_line=request.review_line,
            review_hunk=request.review_diff_hunk,
        )

        plan_started = workflow.now()
        planned = await self._cancellable(
            workflow.execute_activity_method(
                ModelActivities.plan,
                PlanInput(
                    task=task,
                    issue_title=request.issue_title,
                    issue_body=request.issue_body,
                    repo_summary=context.repo_summary,
                    config=config,
                ),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=MODEL_RETRY,
            )
        )
        self._orchestrator = self._orchestrator + planned.usage
        self._span("plan", "plan", plan_started)
        if planned.plan is None:
            await self._fail(target, planned.error)
            return
        plan = self._plan = planned.plan
        self._memory.plan = plan
        self._progress.lines = {
            role.value: results.AgentLine(status=AgentStatus.QUEUED) for role in plan.roles
        }
        waiting = config.require_approval
        self._progress.state = "waiting for approval" if waiting else "running"
        posted = await github_call(
            ForgeActivities.post_comment, PostInput(target=target, body=self._status_body())
        )
        self._status_comment, self._progress.link = posted.id, posted.html_url
        if waiting and not await self._approved(config):
            self._set_state(states.approval_expired_state(config.approval_timeout_hours))
            await github_call(
                ForgeActivities.post_comment,
                PostInput(
                    target=target, body=messages.approval_expired(config.approval_timeout_hours)
                ),
            )
            return
        self._set_state("running")
        if follow_up is not None:
            branch = follow_up.branch  # new commits on the pull request's own branch
        else:
            branch = decisions.scratch_branch(request.issue_number, task)
            await workflow.execute_activity_method(
                RepoActivities.prepare_branch,
                BranchInput(target=target, branch=branch, base_sha=context.base_sha),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=GITHUB_RETRY,
            )
        if len(plan.roles) > 1:
            warm_started = workflow.now()
            self._orchestrator = self._orchestrator + await workflow.execute_activity_method(
                ModelActivities.warm_cache,
                WarmInput(plan=plan, repo_summary=context.repo_summary, config=config),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=MODEL_RETRY,
            )
            self._span("warm cache", "plan", warm_started)
        agent = AgentInput(
            target=target,
            run_workflow_id=workflow.info().workflow_id,
            role=Role.IMPLEMENT,
            round=1,
            branch=branch,
            plan=plan,
            repo_summary=context.repo_summary,
            config=config,
        )
        await self._cancellable(self._fan_out(agent, plan.roles, parallel=config.parallel))
        rounds, budget_note = await self._reconcile(target, agent, config, started)
        await self._open_pull(request, target, context, config, branch, rounds, budget_note)

    async def _reconcile(
        self, target: Target, agent: AgentInput, config: RepoConfig, started: datetime
    ) -> tuple[list[TestRound], str]:
        """Test the scratch head; send failures back, up to max_rounds. Returns the rounds and
        a note when a run budget stopped the loop."""
        assert self._plan is not None
        command = config.test_command or self._plan.test_command
        rounds: list[TestRound] = []
        if not command:
            return rounds, ""
        for number in range(1, config.max_rounds + 1):
            self._set_state(f"testing (round {number} of {config.max_rounds})")
            test_started = workflow.now()
            result: TestRound = await self._cancellable(
                workflow.execute_activity_method(
                    SandboxedTests.run_tests,
                    TestInput(
                        target=target,
                        branch=agent.branch,
                        round=number,
                        command=command,
                        setup_command=config.setup_command,
                        timeout_minutes=config.test_timeout_minutes,
                    ),
                    start_to_close_timeout=timedelta(minutes=config.test_timeout_minutes + 10),
                    retry_policy=GITHUB_RETRY,
                )
            )
            self._span(f"tests round {number}", "tests", test_started)
            rounds.append(result)
            self._progress.rounds = rounds
            if result.passed or number == config.max_rounds:
                break
            reached = self._budget_reached(config, started)
            if reached:
                return rounds, f"The run budget was reached ({reached}); no further rounds ran."
            fixer = decisions.choose_fixer(result.output_tail, self._plan.roles)
            result.sent_to = fixer.value
            self._set_state(f"fixing (round {number + 1}): {fixer.value}")
            self._progress.lines[fixer.value].status = AgentStatus.QUEUED
            await self._cancellable(
                self._agent(
                    agent.model_copy(
                        update={
                            "role": fixer,
                            "round": number + 1,
                            "feedback": decisions.trim_output(result.output_tail),
                        }
                    )
                )
            )
        return rounds, ""

    async def _open_pull(
        self,
        request: CommandRequest,
        target: Target,
        context: RunContext,
        config: RepoConfig,
        branch: str,
        rounds: list[TestRound],
        budget_note: str,
    ) -> None:
        assert self._plan is not None
        self._set_state("opening the pull request")
        pr_started = workflow.now()
        attribution = await workflow.execute_activity_method(
            RepoActivities.attribute,
            AttributeInput(target=target, branch=branch, base_sha=context.base_sha),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=GITHUB_RETRY,
        )
        draft_reason = pr_body_mod.draft_reason(rounds, config.max_rounds, budget_note)
        self._span("pull request", "pull request", pr_started)
        body = pr_body_mod.pr_body(
            plan=self._plan,
            # Issue numbers start at 1; `bot run` uses 0 for "no issue".
            issue_number=request.issue_number
            if request.issue_number > 0 and not request.is_pull_request
            else None,
            attribution_table=attribution.table,
            rounds=rounds,
            agents=self._results,
            orchestrator=self._orchestrator,
            orchestrator_model=config.models.planner,
            prices=context.prices,
            spans=self._spans,
            memory=self._memory,
            draft_reason=draft_reason,
        )
        pull = await github_call(
            ForgeActivities.open_pull,
            PullInput(
                target=target,
                head=branch,
                base=self._follow_up.base if self._follow_up else context.default_branch,
                title=pr_body_mod.pr_title(self._plan, request.issue_title),
                body=body,
                draft=draft_reason is not None,
            ),
        )
        self._progress.pr_url = pull.html_url
        if self._follow_up is not None:
            commits = [sha for result in self._results for sha in result.commits]
            await github_call(
                ForgeActivities.reply,
                PostInput(
                    target=target,
                    body=messages.follow_up_reply(
                        commits=commits, rounds=rounds, pr_url=pull.html_url
                    ),
                ),
            )
        await github_call(ForgeActivities.react, ReactInput(target=target, content="rocket"))
        self._set_state("done (draft: tests still fail)" if draft_reason else "done")

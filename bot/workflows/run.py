"""The run workflow: context → plan → (approval) → environment → agents in parallel → reconcile
rounds → one pull request, each a short phase.

Deterministic orchestration only: every side effect is an activity, what the run knows is the
pure RunState (workflows/run_state.py), and its status comment is published by
workflows/status.py. The workflow holds the shared memory (writes arrive as an update).
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from bot.activities.boundary import application_error
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import (
        AgentInput,
        AttributeInput,
        BranchInput,
        RunContext,
        TargetInput,
        WarmInput,
    )
    from bot.activities.model import ModelActivities
    from bot.activities.repo import RepoActivities
    from bot.core import decisions
    from bot.core.memory import Memory, MemoryWrite, Note
    from bot.core.plan import Plan
    from bot.core.repo_config import RepoConfig
    from bot.core.results import AgentProgress, AgentStatus, ModelUsage, TestRound
    from bot.errors import MemoryRefused
    from bot.render import messages, states
    from bot.render.pr_body import budget_reached_note, draft_reason
    from bot.workflows import answers, policies
    from bot.workflows.before_agents import approval, prepare_environment
    from bot.workflows.landing import delete_landed
    from bot.workflows.run_inputs import agent_input, plan_input, task_text
    from bot.workflows.run_state import RunCancelled, RunState
    from bot.workflows.shared import CommandRequest, RunProgress
    from bot.workflows.status import StatusComment
    from bot.workflows.work import cancellable, run_agent, run_agents, test_round

call = policies.call


@workflow.defn
class RunWorkflow:
    def __init__(self) -> None:
        self.state = RunState()

    # -- signals, queries, updates ---------------------------------------------------------------

    @workflow.signal
    def approve(self, by: str) -> None:
        self.state.approve(by)

    @workflow.signal
    def cancel(self, by: str) -> None:
        self.state.cancel(by)

    @workflow.update
    def agent_turn(self, progress: AgentProgress) -> Memory:
        """An agent finished a model turn: record its progress, answer with the memory (one
        round trip per turn; queries can wait behind a busy workflow task)."""
        self.state.record_turn(progress)
        return self.state.memory

    @workflow.update
    def model_usage(self, report: ModelUsage) -> None:
        """The planner or the cache warmer was answered: its attempt's usage so far."""
        self.state.record_call(report)

    @workflow.update
    def read_memory(self) -> Memory:
        return self.state.memory

    @workflow.update
    def write_memory(self, write: MemoryWrite) -> Note:
        # Only an ApplicationError fails just the update: any other exception from a handler
        # fails the workflow task, and the run would stall on it.
        try:
            return self.state.memory.apply(write, at=workflow.now().isoformat())
        except MemoryRefused as exc:
            raise application_error(exc) from None

    @write_memory.validator
    def _check_memory_write(self, write: MemoryWrite) -> None:
        # A validator's exception rejects the update (the write is never in history). The
        # writer must bound the payload before sending it: a rejection carries the request.
        self.state.memory.model_copy(deep=True).apply(write, at="")

    @workflow.query
    def link(self) -> str:
        return self.state.progress.link

    @workflow.query
    def progress(self) -> RunProgress:
        return self.state.progress

    # -- the run ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: CommandRequest) -> RunProgress:
        state = self.state
        state.title = request.issue_title
        self.status = StatusComment(state, request.target)
        self.status.start()
        failure: Exception | None = None
        # No `finally` with an await here: an evicted workflow is closed with GeneratorExit.
        try:
            await self._run(request)
        except RunCancelled:
            state.set_state(states.cancelled_state(state.cancelled_by or "someone"))
            state.mark_unfinished(AgentStatus.CANCELLED)
        except Exception as exc:
            failure = exc
            state.set_state(states.failed(answers.reason(exc)))
            state.mark_unfinished(AgentStatus.FAILED)
        await self.status.close()
        if failure is not None:
            if self.status.comment_id is None:  # nobody would learn of it otherwise
                await self._tell_failure(request, answers.reason(failure))
            raise failure
        return state.progress

    async def _run(self, request: CommandRequest) -> None:
        started = workflow.now()
        context = await self._context(request)
        if context is None or context.config is None:
            return
        config = context.config
        plan = await self._plan(request, context, config)
        if plan is None or not await approval(self.state, request, config):
            return
        if not await prepare_environment(self.state, request, context, config):
            return
        agent = await self._fan_out(request, context, config, plan)
        if not self.state.commits():  # nothing to open: done, or failed when work is missing
            line, body = self.state.nothing_landed()
            self.state.set_state(line)
            await answers.post(request.target, body, "nothing-to-change")
            return
        rounds, budget_note = await self._reconcile(agent, config, plan, started)
        await self._pull_request(request, context, config, agent.branch, rounds, budget_note)
        await delete_landed(self.state, request.target)

    # -- the phases ------------------------------------------------------------------------------

    async def _context(self, request: CommandRequest) -> RunContext | None:
        """The repository's default branch, config and summary; for a follow-up, the pull
        request's branch (or why not). None when the run ends here (reported)."""
        target = request.target
        context = await cancellable(
            self.state,
            call(policies.REPO_CONTEXT, RepoActivities.run_context, TargetInput(target=target)),
        )
        if context.config is None:
            await self._fail(request, context.config_error)
            return None
        self.state.prices = context.prices
        if request.is_pull_request:
            follow_up = await call(
                policies.GITHUB, ForgeActivities.follow_up, TargetInput(target=target)
            )
            if follow_up.refusal:
                self.state.set_state(states.refused(follow_up.refusal))
                await answers.reply(target, follow_up.refusal, "reply-refused")
                return None
            self.state.follow_up = follow_up
        return context

    async def _plan(
        self, request: CommandRequest, context: RunContext, config: RepoConfig
    ) -> Plan | None:
        """The plan, shown in the status comment; None when the planner gave none (reported)."""
        plan_started = workflow.now()
        planning = plan_input(request, context, config, workflow.info().workflow_id)
        planned = await cancellable(self.state, call(policies.PLAN, ModelActivities.plan, planning))
        self.state.record_call(planned.report)
        self._span("plan", "plan", plan_started)
        if planned.plan is None:
            await self._fail(request, planned.error)
            return None
        self.state.start_plan(planned.plan)
        waiting = states.WAITING_FOR_APPROVAL if config.require_approval else states.RUNNING
        self.state.set_state(waiting)
        await self.status.post()
        return planned.plan

    async def _fan_out(
        self, request: CommandRequest, context: RunContext, config: RepoConfig, plan: Plan
    ) -> AgentInput:
        """The branch, the warm prompt cache, then every agent of the plan: at once, or one after
        another when the repository asks for it. Returns the agents' input, for fix rounds."""
        branch = await self._branch(request, context)
        if len(plan.roles) > 1:
            warm_started = workflow.now()
            warm = WarmInput(
                plan=plan,
                repo_summary=context.repo_summary,
                config=config,
                run_workflow_id=workflow.info().workflow_id,
            )
            report = await call(policies.WARM_CACHE, ModelActivities.warm_cache, warm)
            self.state.record_call(report)
            self._span("warm cache", "plan", warm_started)
        run_id, environment = workflow.info().workflow_id, self.state.environment_spec
        agent = agent_input(request, context, config, plan, branch, run_id, environment)
        inputs = [agent.model_copy(update={"role": role}) for role in plan.roles]
        await cancellable(self.state, run_agents(self.state, inputs, parallel=config.parallel))
        return agent

    async def _reconcile(
        self, agent: AgentInput, config: RepoConfig, plan: Plan, started: datetime
    ) -> tuple[list[TestRound], str]:
        """Test the scratch head; send failures back, up to max_rounds. Returns the rounds and
        a note when a run budget stopped the loop."""
        command = config.test_command or plan.test_command
        rounds: list[TestRound] = []
        if not command:
            return rounds, ""
        for number in range(1, config.max_rounds + 1):
            result = await test_round(self.state, agent, command, number)
            rounds.append(result)
            if result.passed or number == config.max_rounds:
                break
            elapsed = (workflow.now() - started).total_seconds() / 60
            reached = self.state.budget_reached(config, elapsed)
            if reached:
                return rounds, budget_reached_note(reached)
            fixer = decisions.choose_fixer(result.output_tail, plan.roles)
            result.sent_to = fixer.value
            self.state.set_state(states.fixing(number + 1, fixer.value))
            self.state.agent_queued(fixer)
            feedback = decisions.trim_output(result.output_tail)
            fix = {"role": fixer, "round": number + 1, "feedback": feedback}
            await cancellable(self.state, run_agent(self.state, agent.model_copy(update=fix)))
        return rounds, ""

    async def _pull_request(
        self,
        request: CommandRequest,
        context: RunContext,
        config: RepoConfig,
        branch: str,
        rounds: list[TestRound],
        budget_note: str,
    ) -> None:
        """Attribute the diff, open (or refresh) the pull request, answer a follow-up there."""
        state, target = self.state, request.target
        state.set_state(states.OPENING_PULL)
        pr_started = workflow.now()
        attribute = AttributeInput(target=target, branch=branch, base_sha=context.base_sha)
        attribution = await call(policies.GIT, RepoActivities.attribute, attribute)
        missing = state.missing_work()
        draft = draft_reason(rounds, config.max_rounds, budget_note, missing)
        self._span("pull request", "pull request", pr_started)
        pull_input = state.pull_input(request, context, config, branch, attribution.table, draft)
        pull = await call(policies.GITHUB, ForgeActivities.open_pull, pull_input)
        state.progress.pr_url = pull.html_url
        if state.follow_up is not None:
            reply = messages.follow_up_reply(
                commits=state.commits(), rounds=rounds, pr_url=pull.html_url
            )
            await answers.reply(target, reply, "reply-follow-up")
        await answers.react(target, "rocket")
        state.set_state(states.done(draft=draft is not None, missing=[m.role for m in missing]))

    # -- pieces ----------------------------------------------------------------------------------

    async def _branch(self, request: CommandRequest, context: RunContext) -> str:
        """A follow-up's new commits go on its pull request's branch; else a new scratch one."""
        if self.state.follow_up is not None:
            return self.state.follow_up.branch
        branch = decisions.scratch_branch(request.issue_number, task_text(request))
        create = BranchInput(target=request.target, branch=branch, base_sha=context.base_sha)
        await call(policies.GIT, RepoActivities.prepare_branch, create)
        return branch

    async def _fail(self, request: CommandRequest, reason: str) -> None:
        """A run that ends before its status comment: the reason, as a reply to the command."""
        self.state.set_state(states.failed(reason))
        await answers.reply(request.target, messages.run_failed(reason), "failure")

    async def _tell_failure(self, request: CommandRequest, reason: str) -> None:
        try:
            await self._fail(request, reason)
        except ActivityError as exc:  # GitHub is out of reach: the failure stays in the history
            workflow.logger.error("the run failed and could not say so: %s", exc.cause or exc)

    def _span(self, label: str, section: str, started: datetime) -> None:
        self.state.span(label, section, started, workflow.now())

"""The run's phases between the plan and the agents: the maintainer's approval (when the
repository asks for it) and the repository's environment. Workflow code."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bot.activities.inputs import EnvironmentSpec, RunContext
    from bot.activities.prepare_environment import EnvironmentActivities
    from bot.core.repo_config import RepoConfig
    from bot.render import environment, messages, states
    from bot.workflows import answers, policies
    from bot.workflows.run_state import RunCancelled, RunState
    from bot.workflows.shared import CommandRequest
    from bot.workflows.work import cancellable


async def approval(state: RunState, request: CommandRequest, config: RepoConfig) -> bool:
    """Wait for `/orchestrate approve` when the repository asks for it; False when nobody
    approved in time (reported). A cancel while waiting ends the run."""
    if config.require_approval:
        try:
            await workflow.wait_condition(
                state.decided, timeout=timedelta(hours=config.approval_timeout_hours)
            )
        except TimeoutError:
            hours = config.approval_timeout_hours
            state.set_state(states.approval_expired_state(hours))
            await answers.post(request.target, messages.approval_expired(hours), "expired")
            return False
        if state.cancelled_by is not None:
            raise RunCancelled
    state.set_state(states.RUNNING)
    return True


async def prepare_environment(
    state: RunState, request: CommandRequest, context: RunContext, config: RepoConfig
) -> bool:
    """Build (or find) the repository's environment before any agent spends a token; False
    when it could not be built: the run stops with a comment saying why. Its time is a span
    of the timeline (and counts in the run's time budget)."""
    # The default branch's head, for a follow-up too: its pull request's files are agents' work.
    spec = EnvironmentSpec.of(request.target, config, revision=context.base_sha)
    state.set_state(states.PREPARING_ENVIRONMENT)
    started = workflow.now()
    options = policies.environment(config)
    call = policies.call(options, EnvironmentActivities.prepare_environment, spec)
    report = await cancellable(state, call)
    state.span("environment", "environment", started, workflow.now())
    state.environment_prepared(report)
    if not report.usable:
        state.set_state(states.ENVIRONMENT_FAILED)
        await answers.post(request.target, environment.failed_comment(report), "environment")
        return False
    # Every agent and test round uses this environment.
    state.environment_spec = spec
    state.set_state(states.RUNNING)
    return True

"""The run's work inside the run workflow: the agents' activities (each start and result
recorded in the run state, a failure after its retries kept as a result), each agent's commit
landed on the run's branch (workflows/landing.py), a round of tests, and the run's
cancellation reaching whatever is in flight. Workflow code."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from bot.activities.agent import AgentActivities
    from bot.activities.inputs import AgentInput, TestInput
    from bot.activities.tests import SandboxedTests
    from bot.core.repo_config import RepoConfig
    from bot.core.results import AgentResult, TestRound
    from bot.render import states
    from bot.workflows import policies
    from bot.workflows.landing import land
    from bot.workflows.run_inputs import failed_result
    from bot.workflows.run_state import RunCancelled, RunState

T = TypeVar("T")


async def run_agent(state: RunState, agent: AgentInput) -> AgentResult:
    """One agent: its activity, then its commit landed on the run's branch. A failure (after
    retries) is a result, a cancel is not."""
    state.agent_started(agent.role)
    started = workflow.now()
    result = await agent_activity(state, agent)
    if result.branch:
        result = await land(state, agent, result, resolve=functools.partial(agent_activity, state))
    state.agent_finished(result)
    label = f"{agent.role.value} (round {agent.round})"
    state.span(label, "agents", started, workflow.now())
    return result


async def agent_activity(state: RunState, agent: AgentInput) -> AgentResult:
    """The agent activity (its work, or in conflict mode a resolution), its usage accounted;
    a failure after its retries as a FAILED result, a cancel raised."""
    try:
        options = policies.agent(agent.config)
        result = await policies.call(options, AgentActivities.run_agent, agent)
    except ActivityError as exc:
        if not isinstance(exc.cause, ApplicationError) and state.cancelled_by:
            raise
        model = agent.config.models.for_role(agent.role)
        return failed_result(agent.role, agent.round, model, str(exc.cause or exc))
    state.account(result, agent.conflict)
    return result


async def run_agents(state: RunState, agents: Sequence[AgentInput], *, parallel: bool) -> None:
    """Every agent: at once, or one after another."""
    if parallel:
        await asyncio.gather(*(run_agent(state, agent) for agent in agents))
        return
    for agent in agents:
        await run_agent(state, agent)


async def test_round(state: RunState, agent: AgentInput, command: str, number: int) -> TestRound:
    """Round `number` of the tests on the scratch head (the same branch the agents push to)."""
    config: RepoConfig = agent.config
    state.set_state(states.testing(number, config.max_rounds))
    started = workflow.now()
    tests = TestInput(
        target=agent.target,
        branch=agent.branch,
        round=number,
        command=command,
        timeout_minutes=config.test_timeout_minutes,
        environment=agent.environment,
    )
    options = policies.tests(config)
    result = await cancellable(state, policies.call(options, SandboxedTests.run_tests, tests))
    state.span(f"tests round {number}", "tests", started, workflow.now())
    state.add_round(result)
    return result


async def cancellable(state: RunState, awaitable: Awaitable[T]) -> T:
    """Await `awaitable` unless the run is cancelled first; then cancel it and wait for it
    (agents stop at their next heartbeat and push nothing after that)."""
    if state.cancelled_by is not None:
        raise RunCancelled
    task = asyncio.ensure_future(awaitable)
    await workflow.wait_condition(lambda: task.done() or state.cancelled_by is not None)
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise RunCancelled
    return task.result()

"""Landing an agent's commit on the run's branch, in the run workflow: the land activity
rebases it from the agent's own branch and pushes; a conflict comes back here, and the same
agent resolves it in conflict mode (its resolution pushed to a new branch of its own, never a
force-push), then it lands again, a few times at most. Per-agent branches whose work landed
are deleted at the end of the run (best effort); the others keep the work. Workflow code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from bot.activities.inputs import AgentInput, BranchesInput, Landed, LandInput
    from bot.activities.land import LandActivities
    from bot.core.decisions import task_key
    from bot.core.results import AgentResult, AgentStatus
    from bot.core.targets import Target
    from bot.workflows import policies
    from bot.workflows.run_state import RunState

# Conflict resolutions of one agent's commit before it counts as failed to land.
MAX_RESOLUTIONS = 3


async def land(
    state: RunState,
    agent: AgentInput,
    result: AgentResult,
    *,
    resolve: Callable[[AgentInput], Awaitable[AgentResult]],
) -> AgentResult:
    """`result` with the commits that landed on the branch; FAILED, saying why, when they
    could not (its branches are kept, with the work)."""
    source, branches = result.branch, [result.branch]
    key = task_key(agent.run_workflow_id, agent.role.value, agent.round)
    for resolution in range(1, MAX_RESOLUTIONS + 2):
        landing = LandInput(
            target=agent.target,
            run_workflow_id=agent.run_workflow_id,
            branch=agent.branch,
            source=source,
            task=key,
        )
        try:
            landed = await policies.call(policies.LAND, LandActivities.land, landing)
        except ActivityError as exc:
            if not isinstance(exc.cause, ApplicationError) and state.cancelled_by:
                raise
            return _unlanded(result, f"its commit could not be put on the branch: {exc.cause}")
        if not landed.conflict_files:
            state.landed_branches += branches
            return result.model_copy(update={"commits": landed.commits})
        if resolution > MAX_RESOLUTIONS:
            break
        resolved = await resolve(
            agent.model_copy(update={"conflict": resolution, "resolve": source})
        )
        if not resolved.branch:
            return _unlanded(result, resolved.stop_reason.removeprefix("error: "))
        source = resolved.branch
        branches.append(source)
        result = result.model_copy(update={"refused": [*result.refused, *resolved.refused]})
    return _unlanded(result, _conflicts(landed))


def _unlanded(result: AgentResult, why: str) -> AgentResult:
    update = {"status": AgentStatus.FAILED, "stop_reason": f"error: {why}", "commits": []}
    return result.model_copy(update=update)


def _conflicts(landed: Landed) -> str:
    files = ", ".join(landed.conflict_files)
    return f"its conflicts with the other agents' work ({files}) were not resolved"


async def delete_landed(state: RunState, target: Target) -> None:
    """Delete the per-agent branches whose work landed (best effort: a failure is logged)."""
    if not state.landed_branches:
        return
    request = BranchesInput(target=target, branches=state.landed_branches)
    try:
        await policies.call(policies.GIT, LandActivities.delete_branches, request)
    except ActivityError:
        workflow.logger.warning("deleting the per-agent branches failed", exc_info=True)

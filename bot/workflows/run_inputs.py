"""The activity inputs a run builds from its command: the planner's task and input, the
agents' first input, and the result an agent that failed leaves behind. Pure."""

from __future__ import annotations

from bot.activities.inputs import AgentInput, EnvironmentSpec, PlanInput, RunContext
from bot.core import decisions
from bot.core.plan import Plan, Role
from bot.core.repo_config import RepoConfig
from bot.core.results import AgentResult, AgentStatus
from bot.workflows.shared import CommandRequest


def failed_result(role: Role, round_number: int, model: str, reason: str) -> AgentResult:
    """What an agent activity that failed (after its retries) leaves in the run."""
    return AgentResult(
        role=role.value,
        round=round_number,
        status=AgentStatus.FAILED,
        model=model,
        stop_reason=f"error: {reason}",
    )


def task_text(request: CommandRequest) -> str:
    """What the planner is asked to do (and what names the scratch branch)."""
    return decisions.task_text(
        request.command.task,
        request.issue_title,
        request.issue_body,
        review_path=request.review_path,
        review_line=request.review_line,
        review_hunk=request.review_diff_hunk,
    )


def plan_input(
    request: CommandRequest, context: RunContext, config: RepoConfig, run_workflow_id: str = ""
) -> PlanInput:
    return PlanInput(
        task=task_text(request),
        issue_title=request.issue_title,
        issue_body=request.issue_body,
        repo_summary=context.repo_summary,
        config=config,
        run_workflow_id=run_workflow_id,
    )


def agent_input(
    request: CommandRequest,
    context: RunContext,
    config: RepoConfig,
    plan: Plan,
    branch: str,
    run_workflow_id: str,
    environment: EnvironmentSpec | None = None,
) -> AgentInput:
    """The agents' input (the first round; each agent of the plan gets its own role). Their own
    branches are named after this command (for a follow-up: its pull request and task, not the
    branch it works on, whose earlier runs had agents of the same names)."""
    return AgentInput(
        target=request.target,
        run_workflow_id=run_workflow_id,
        role=Role.IMPLEMENT,
        round=1,
        branch=branch,
        own_branches=decisions.scratch_branch(request.issue_number, task_text(request)),
        plan=plan,
        repo_summary=context.repo_summary,
        config=config,
        environment=environment,
    )

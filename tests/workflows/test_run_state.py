"""The run state's pure rules, without Temporal: controls, the checklist, budgets, what is posted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.activities.inputs import EnvironmentSpec, RunContext
from bot.core.commands import Command, CommandKind
from bot.core.environment import EnvironmentReport, EnvironmentStatus
from bot.core.plan import Plan, Role
from bot.core.pricing import PriceTable
from bot.core.repo_config import Budget, RepoConfig
from bot.core.results import AgentProgress, AgentResult, AgentStatus, ModelUsage
from bot.core.results import TestRound as Round
from bot.core.targets import CommentKind, RepoRef
from bot.core.usage import Usage
from bot.github.models import FollowUp
from bot.render import states
from bot.render.plan_comment import PLAN_MARKER
from bot.render.pr_body import PR_MARKER
from bot.workflows.run_inputs import agent_input, failed_result, plan_input, task_text
from bot.workflows.run_state import RunState
from bot.workflows.shared import CommandRequest

PLAN = Plan.model_validate(
    {
        "summary": "Add a --shout flag.",
        "contract": {"files": ["cli.py"]},
        "subtasks": [
            {"role": "implement", "goal": "Add the flag.", "acceptance": ["flag works"]},
            {"role": "test", "goal": "Test the flag.", "acceptance": ["test passes"]},
        ],
        "test_command": "pytest -q",
    }
)
SONNET = "claude-sonnet-4-6"


def request(*, issue: int = 7, pull: bool = False, task: str = "shout") -> CommandRequest:
    return CommandRequest(
        delivery_id="d",
        installation_id=1,
        repo=RepoRef(id=2, owner="o", name="r"),
        issue_number=issue,
        is_pull_request=pull,
        issue_title="Shouting",
        issue_body="Say it louder.",
        comment_id=3,
        comment_kind=CommentKind.REVIEW if pull else CommentKind.ISSUE,
        commenter="maintainer",
        command=Command(kind=CommandKind.RUN, task=task, task_chars=len(task)),
        review_path="cli.py" if pull else None,
        review_line=4 if pull else None,
    )


def context() -> RunContext:
    return RunContext(default_branch="main", base_sha="a" * 40, config=RepoConfig())


def result(role: str, turns: int, tokens: int, round_number: int = 1) -> AgentResult:
    return AgentResult(
        role=role,
        round=round_number,
        status=AgentStatus.DONE,
        model=SONNET,
        turns=turns,
        usage=Usage(output_tokens=tokens),
    )


def planned() -> RunState:
    state = RunState("Shouting")
    state.start_plan(PLAN)
    state.prices = PriceTable.default()
    return state


def test_first_approval_and_cancel_win() -> None:
    """Approve and cancel keep whoever came first; either one decides the approval wait."""
    state = RunState()
    assert not state.decided()
    state.approve("alice")
    state.approve("bob")
    state.cancel("carol")
    state.cancel("dave")
    assert (state.approved_by, state.cancelled_by, state.decided()) == ("alice", "carol", True)


def test_plan_queues_each_agent_and_reaches_the_memory() -> None:
    """Every role of the plan gets a queued checklist line; the agents' memory holds the plan."""
    state = planned()
    assert {role: line.status for role, line in state.progress.lines.items()} == {
        "implement": AgentStatus.QUEUED,
        "test": AgentStatus.QUEUED,
    }
    assert state.memory.plan == PLAN


def test_turns_and_tokens_add_up_over_rounds() -> None:
    """A running agent's line shows its finished rounds plus the turn just reported; a report
    for an agent that is not running changes nothing."""
    state = planned()
    state.agent_started(Role.IMPLEMENT)
    state.agent_finished(result("implement", turns=3, tokens=300))
    changes = state.changes
    state.record_turn(
        AgentProgress(role=Role.IMPLEMENT, round=2, turns=1, usage=Usage(output_tokens=50))
    )
    assert state.changes == changes  # finished: not running
    state.agent_started(Role.IMPLEMENT)
    state.record_turn(
        AgentProgress(role=Role.IMPLEMENT, round=2, turns=2, usage=Usage(output_tokens=80))
    )
    line = state.progress.lines["implement"]
    assert (line.status, line.turns, line.tokens) == (AgentStatus.RUNNING, 5, 380)
    state.agent_finished(result("implement", turns=2, tokens=90, round_number=2))
    assert (line.status, line.turns, line.tokens) == (AgentStatus.DONE, 5, 390)
    assert state.changes == changes + 3


def test_every_attempts_usage_reaches_the_results_and_the_cost() -> None:
    """A killed first attempt (its last turn report), the retry's own result, a conflict
    resolution and a failed round: each agent's result and line carry all of it; the planner's
    reports (one repeated) make the orchestrator's usage; FAILED rounds are the missing work."""
    state = planned()
    state.agent_started(Role.IMPLEMENT)
    killed = AgentProgress(role=Role.IMPLEMENT, round=1, turns=2, usage=Usage(output_tokens=70))
    state.record_turn(killed)
    retried = result("implement", 3, 100).model_copy(update={"attempt": 2})
    state.account(retried)
    state.account(result("implement", 1, 5).model_copy(update={"attempt": 1}), conflict=1)
    state.agent_finished(retried)
    assert (state.results[-1].turns, state.results[-1].usage.total) == (6, 175)
    line = state.progress.lines["implement"]
    assert (line.turns, line.tokens) == (6, 175)
    state.agent_started(Role.TEST)
    state.record_turn(AgentProgress(role=Role.TEST, round=1, turns=1, usage=Usage(input_tokens=9)))
    state.agent_finished(failed_result(Role.TEST, 1, SONNET, "push failed"))
    assert (state.results[-1].turns, state.results[-1].usage.total) == (1, 9)
    assert [r.role for r in state.missing_work()] == ["test"]
    for attempt, tokens in [(1, 40), (2, 50), (2, 50)]:
        state.record_call(
            ModelUsage(call="plan", attempt=attempt, usage=Usage(input_tokens=tokens))
        )
    assert state.orchestrator == Usage(input_tokens=90)


def test_unfinished_agents_take_the_runs_end() -> None:
    """Cancelling marks queued and running agents, never one that finished."""
    state = planned()
    state.agent_started(Role.IMPLEMENT)
    state.agent_finished(result("implement", 1, 1))
    state.agent_started(Role.TEST)
    state.mark_unfinished(AgentStatus.CANCELLED)
    statuses = {role: line.status for role, line in state.progress.lines.items()}
    assert statuses == {"implement": AgentStatus.DONE, "test": AgentStatus.CANCELLED}


def test_budget_reached_by_tokens_dollars_or_time() -> None:
    """Each run budget stops the fix rounds once used up, and none does before."""
    state = planned()
    state.agent_finished(result("implement", 1, 10_000))
    roomy = RepoConfig(budget=Budget(tokens=1_000_000, dollars=100, minutes=60))
    assert state.budget_reached(roomy, elapsed_minutes=1) is None
    assert (
        state.budget_reached(roomy.model_copy(update={"budget": Budget(tokens=5_000)}), 1) or ""
    ).startswith("tokens")
    assert (
        state.budget_reached(roomy.model_copy(update={"budget": Budget(dollars=0.1)}), 1) or ""
    ).startswith("dollars")
    assert (state.budget_reached(roomy, elapsed_minutes=61) or "").startswith("time")


def test_status_body_shows_the_state_line_and_the_checklist() -> None:
    """The status comment carries the plan marker, the run's state and each agent's line."""
    state = planned()
    state.set_state("testing (round 1 of 2)")
    body = state.status_body()
    assert body.startswith(PLAN_MARKER) and "testing (round 1 of 2)" in body
    assert "**implement**: queued" in body and "**test**: queued" in body


def test_pull_input_closes_the_issue_unless_a_follow_up() -> None:
    """An issue's run closes it and targets the default branch; a follow-up targets its pull
    request's base and closes nothing; a draft reason makes a draft."""
    state = planned()
    state.span(
        "plan", "plan", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 1, tzinfo=UTC)
    )
    pull = state.pull_input(
        request(), context(), RepoConfig(), "orchestrate/7-shout", "| t |", None
    )
    assert (pull.head, pull.base, pull.title, pull.draft) == (
        "orchestrate/7-shout",
        "main",
        "Shouting",
        False,
    )
    assert "Closes #7" in pull.body and pull.body.rstrip().endswith(PR_MARKER)
    state.follow_up = FollowUp(branch="orchestrate/5-x", base="develop")
    again = state.pull_input(
        request(pull=True), context(), RepoConfig(), "orchestrate/5-x", "", "tests fail"
    )
    assert (again.base, again.draft) == ("develop", True)
    assert "Closes #" not in again.body


def test_commits_are_every_agents_in_the_order_they_finished() -> None:
    """The follow-up reply lists the commits of every finished agent activity."""
    state = planned()
    state.agent_finished(result("implement", 1, 1).model_copy(update={"commits": ["a1"]}))
    state.agent_finished(result("test", 1, 1).model_copy(update={"commits": ["b1", "b2"]}))
    assert state.commits() == ["a1", "b1", "b2"]


def test_failed_result_names_the_error() -> None:
    """An agent activity that failed leaves a FAILED result whose reason is the error."""
    failed = failed_result(Role.DOCS, 2, SONNET, "boom")
    assert (failed.role, failed.round, failed.status, failed.stop_reason) == (
        "docs",
        2,
        AgentStatus.FAILED,
        "error: boom",
    )


def test_task_and_inputs_come_from_the_request() -> None:
    """The planner's task is the command's text plus the review context of a follow-up; the
    agents' first input names the branch, the plan and the run."""
    review = request(pull=True, task="rename it")
    assert task_text(review).startswith("rename it\n\nThis is a review comment on cli.py, line 4")
    assert plan_input(request(), context(), RepoConfig()).task == "shout"
    agent = agent_input(request(), context(), RepoConfig(), PLAN, "orchestrate/7-shout", "run-1")
    assert (agent.role, agent.round, agent.branch, agent.run_workflow_id) == (
        Role.IMPLEMENT,
        1,
        "orchestrate/7-shout",
        "run-1",
    )
    assert agent.own_branches == "orchestrate/7-shout"
    # A follow-up works on its pull request's branch; its agents' own branches are its own.
    on_pull = agent_input(review, context(), RepoConfig(), PLAN, "orchestrate/7-shout", "run-2")
    assert (on_pull.branch, on_pull.own_branches) == (
        "orchestrate/7-shout",
        "orchestrate/7-rename-it-this-is-a-review-comment-on",
    )


def test_rounds_and_spans_are_recorded_in_order() -> None:
    """Test rounds reach the progress (what `bot run` shows); spans keep their ISO times."""
    state = planned()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    state.span("tests round 1", "tests", start, start + timedelta(seconds=5))
    state.add_round(Round(round=1, command="pytest", passed=False, exit_code=1))
    assert [r.round for r in state.progress.rounds] == [1]
    assert (state.spans[0].start, state.spans[0].end) == (
        start.isoformat(),
        (start + timedelta(seconds=5)).isoformat(),
    )


def test_the_environment_shows_in_the_status_the_progress_and_the_pull_request() -> None:
    """While it is prepared the checklist says so; once it is, the progress says how (for
    `bot run`), the status comment and the PR body say what was detected; the agents' input
    carries the environment's definition."""
    state = planned()
    state.set_state(states.PREPARING_ENVIRONMENT)
    assert "- [ ] **environment**: preparing\n" in state.status_body()
    changes = state.changes
    report = EnvironmentReport(
        status=EnvironmentStatus.BUILT, description="Python 3.11 virtualenv", duration_s=41.0
    )
    state.environment_prepared(report)
    assert state.changes == changes + 1
    assert state.progress.environment == "built in 41 s"
    assert "- [x] **environment**: built in 41 s · Python 3.11 virtualenv\n" in state.status_body()
    pull = state.pull_input(request(), context(), RepoConfig(), "orchestrate/7-x", "", None)
    assert "**Environment:** Python 3.11 virtualenv (built in 41 s)." in pull.body
    spec = EnvironmentSpec.of(request().target, RepoConfig(), revision="b" * 40)
    agent = agent_input(request(), context(), RepoConfig(), PLAN, "orchestrate/7-x", "run", spec)
    assert agent.environment == spec

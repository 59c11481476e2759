"""Runs that are shaped or steered: one agent, approval, cancel, a second task, bad config,
an unusable plan, a refused workflow edit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from bot.render import messages
from bot.render.plan_comment import PLAN_MARKER
from bot.workflows.run import RunWorkflow
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel, ToolCall, Turn
from tests.support.project import PROJECT_FILES, edit, plan_input, plan_turn
from tests.support.runstack import OWNER, RunStack, run_stack
from tests.support.stack import eventually, eventually_async

AGENT_LINE = re.compile(r"^- \[[ x]\] \*\*(implement|test|docs)\*\*:", re.MULTILINE)
TYPO_FIX = [
    Turn(tool_calls=[edit("README.md", "A tiny command-line tool.", "A tiny command-line tool!")]),
    Turn(text="Fixed the typo."),
]
StackFactory = Callable[..., AbstractAsyncContextManager[RunStack]]


@pytest.fixture
def make_stack(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> StackFactory:
    @asynccontextmanager
    async def factory(
        scripts: dict[str, Script], config: str | None = None
    ) -> AsyncIterator[RunStack]:
        files = dict(PROJECT_FILES)
        if config is not None:
            files[".github/orchestrate.yml"] = config
        with ScriptedModel(scripts) as model:
            async with run_stack(
                hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
            ) as stack:
                yield stack

    return factory


def _branch_pushes(stack: RunStack) -> list[str]:
    return [p.new for p in stack.hub.state.pushes_to(OWNER, stack.repo) if "orchestrate/" in p.ref]


async def test_trivial_task_uses_one_agent_and_shows_one_line(make_stack: StackFactory) -> None:
    """A typo fix: the plan uses one agent and says why; the checklist has one agent line."""
    scripts = {
        "submit_plan": [plan_turn(("implement",), "a typo fix needs one agent")],
        "implement": TYPO_FIX,
    }
    async with make_stack(scripts) as stack:
        await stack.command("/orchestrate fix the typo in the README")
        progress = await stack.finished_run()
        assert progress.state == "done"
        [status] = stack.app_comments()
        assert AGENT_LINE.findall(status) == ["implement"]
        assert "a typo fix needs one agent" in status
        assert stack.model.requests_for("test") == [] and stack.model.requests_for("docs") == []
        [pull] = stack.pulls()
        assert "A tiny command-line tool!" in (
            stack.hub.read_file(OWNER, stack.repo, pull.head_ref, "README.md") or ""
        )


async def test_approval_gate_waits_for_approve(make_stack: StackFactory) -> None:
    """With require_approval the plan is posted and nothing runs until `/orchestrate approve`."""
    scripts = {"submit_plan": [plan_turn(("implement",), "small")], "implement": TYPO_FIX}
    async with make_stack(scripts, config="require_approval: true\n") as stack:
        await stack.command("/orchestrate fix the typo")
        await eventually(lambda: stack.app_comments())
        [status] = stack.app_comments()
        assert status.startswith(PLAN_MARKER) and "waiting for approval" in status
        assert stack.model.requests_for("implement") == []
        await stack.command("/orchestrate approve")
        progress = await stack.finished_run()
        assert progress.state == "done"
        assert len(stack.pulls()) == 1


async def test_unapproved_run_expires_with_a_comment(make_stack: StackFactory) -> None:
    """An approval that never comes ends the run after the configured time, with a comment."""
    scripts = {"submit_plan": [plan_turn(("implement",), "small")], "implement": TYPO_FIX}
    async with make_stack(
        scripts, config="require_approval: true\napproval_timeout_hours: 0.0003\n"
    ) as stack:
        await stack.command("/orchestrate fix the typo")
        progress = await stack.finished_run()
        assert progress.state.startswith("stopped: not approved within")
        status, expired = stack.app_comments()
        assert "not approved within" in status
        assert "Nobody wrote `/orchestrate approve`" in expired
        assert stack.pulls() == [] and stack.model.requests_for("implement") == []


async def test_second_task_while_running_is_queued_and_runs_after(
    make_stack: StackFactory,
) -> None:
    """A second `/orchestrate <task>` on a busy issue is answered at once that it is queued,
    with a link to the running run's status comment, and runs when the first one finished."""
    scripts = {
        "submit_plan": [plan_turn(("implement",), "small")] * 2,
        "implement": TYPO_FIX + TYPO_FIX,
    }
    async with make_stack(scripts, config="require_approval: true\n") as stack:
        first = await stack.command("/orchestrate fix the typo")
        handle = stack.run_handle(comment_id=first)

        async def status_comment_known() -> bool:  # the run started, its comment recorded
            try:
                return bool(await handle.query(RunWorkflow.link))
            except RPCError:
                return False

        await eventually_async(status_comment_known)
        link = await handle.query(RunWorkflow.link)
        second = await stack.command("/orchestrate something else", login="maintainer")
        await eventually(lambda: len(stack.app_comments()) == 2)
        assert stack.app_comments()[1] == messages.run_queued("maintainer", 1, link)
        assert len(stack.model.requests_for("submit_plan")) == 1
        await stack.command("/orchestrate approve")
        assert (await stack.finished_run(comment_id=first)).state == "done"
        await eventually(lambda: len(stack.app_comments()) == 3)  # the second run's plan
        await stack.command("/orchestrate approve")
        assert (await stack.finished_run(comment_id=second)).state == "done"
        assert sorted(p.head_ref for p in stack.pulls()) == [
            "orchestrate/1-fix-the-typo",
            "orchestrate/1-something-else",
        ]


async def test_cancel_stops_running_agents_and_pushes_nothing(make_stack: StackFactory) -> None:
    """`/orchestrate cancel` while three agents are mid-call: they stop, nothing is pushed after
    the branch was created, no PR opens, and the checklist says who cancelled."""
    held = [Turn(tool_calls=[edit("README.md", "tiny", "small")], hold=True), Turn(text="done")]
    scripts = {
        "submit_plan": [plan_turn()],
        "implement": list(held),
        "test": list(held),
        "docs": list(held),
    }
    async with make_stack(scripts) as stack:
        await stack.command("/orchestrate add a --verbose flag")
        await eventually(lambda: stack.model.held == 3)
        await stack.command("/orchestrate cancel")
        progress = await stack.finished_run()
        assert progress.state == "cancelled by @maintainer"
        assert {line.status.value for line in progress.lines.values()} == {"cancelled"}
        stack.model.release_held()
        [status] = stack.app_comments()
        assert "cancelled by @\u200bmaintainer" in status  # named, but not pinged again
        [created] = _branch_pushes(stack)  # the scratch branch itself, at the base commit
        assert created == stack.hub.branch_sha(OWNER, stack.repo, "main")
        assert stack.pulls() == []


async def test_invalid_repo_config_fails_the_run_with_the_reason(make_stack: StackFactory) -> None:
    """An invalid .github/orchestrate.yml: one comment quoting the validation error, no model call."""
    async with make_stack({}, config="max_rounds: 0\n") as stack:
        await stack.command("/orchestrate do it")
        progress = await stack.finished_run()
        assert progress.state.startswith("failed: ")
        [failed] = stack.app_comments()
        assert failed.startswith("The run failed:")
        assert "max_rounds: Input should be greater than or equal to 1" in failed
        assert stack.model.requests == []


async def test_plan_invalid_twice_fails_with_the_reason(make_stack: StackFactory) -> None:
    """The planner is retried once with the validation error; a second bad plan fails the run
    with a comment quoting why, and no branch is created."""
    bad = plan_input()
    bad["subtasks"] = []
    scripts = {"submit_plan": [Turn(tool_calls=[ToolCall("submit_plan", bad)])] * 2}
    async with make_stack(scripts) as stack:
        await stack.command("/orchestrate do it")
        progress = await stack.finished_run()
        assert progress.state.startswith("failed: ")
        [failed] = stack.app_comments()
        assert failed.startswith("The run failed:") and "subtasks" in failed
        retry = stack.model.requests_for("submit_plan")[1].body
        assert "subtasks" in str(retry["messages"][-1]["content"])  # the error was sent back
        assert _branch_pushes(stack) == [] and stack.pulls() == []


async def test_workflow_file_written_by_a_command_is_not_committed(
    make_stack: StackFactory,
) -> None:
    """A `run` command that writes under .github/workflows/ does not get that file committed
    (GitHub would refuse the push without the workflows permission); the rest lands."""
    sneaky = "mkdir -p .github/workflows && echo 'on: push' > .github/workflows/evil.yml"
    scripts = {
        "submit_plan": [plan_turn(("implement",), "small")],
        "implement": [Turn(tool_calls=[ToolCall("run", {"command": sneaky})]), *TYPO_FIX],
    }
    async with make_stack(scripts) as stack:
        await stack.command("/orchestrate fix the typo")
        progress = await stack.finished_run()
        assert progress.state == "done"
        [pull] = stack.pulls()
        assert (
            stack.hub.read_file(OWNER, stack.repo, pull.head_ref, ".github/workflows/evil.yml")
            is None
        )
        assert "A tiny command-line tool!" in (
            stack.hub.read_file(OWNER, stack.repo, pull.head_ref, "README.md") or ""
        )

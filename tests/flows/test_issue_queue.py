"""Commands on one issue, on the real stack (signed webhooks, Temporal, fakehub, the scripted
model): posting order decides whatever order the webhooks arrive in; cancel and cancel all stop
only what was posted before them; queued tasks are answered with a link and run in turn."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from bot.render import messages
from bot.workflows.client import RunClient
from bot.workflows.issue import IssueWorkflow
from bot.workflows.issue_queue import Cancel, IssueQueueState
from bot.workflows.run import RunWorkflow
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel
from tests.support.project import PROJECT_FILES, edit_then_finish, plan_turn
from tests.support.runstack import OWNER, RunStack, run_stack
from tests.support.stack import eventually, eventually_async, visible

APPROVAL = "require_approval: true\n"
TYPO = edit_then_finish("README.md", "A tiny command-line tool.", "A tiny command-line tool!")
StackFactory = Callable[..., AbstractAsyncContextManager[RunStack]]


def scripts(runs: int) -> dict[str, Script]:
    """Enough plans and edits for `runs` one-agent runs."""
    return {
        "submit_plan": [plan_turn(("implement",), "small")] * runs,
        "implement": [TYPO] * (2 * runs),
    }


@pytest.fixture
def make_stack(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> StackFactory:
    @asynccontextmanager
    async def factory(script: dict[str, Script], config: str = "") -> AsyncIterator[RunStack]:
        files = dict(PROJECT_FILES) | {".github/orchestrate.yml": config or "max_rounds: 1\n"}
        with ScriptedModel(script) as model:
            async with run_stack(
                hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
            ) as stack:
                yield stack

    return factory


def written(stack: RunStack, body: str, issue: int = 1) -> int:
    """A comment written now whose webhook GitHub delivers later (`stack.deliver`)."""
    return stack.hub.add_comment(OWNER, stack.repo, issue, body, user="maintainer")


async def waiting_for_approval(stack: RunStack, comment_id: int) -> None:
    """Until the run of `comment_id` has posted its plan and waits for `/orchestrate approve`."""

    async def waits() -> bool:
        try:
            progress = await stack.run_handle(comment_id=comment_id).query(RunWorkflow.progress)
        except Exception:  # not started yet
            return False
        return progress.state == "waiting for approval" and bool(progress.link)

    await eventually_async(waits, 60)


def thread_replies(stack: RunStack, thread: int) -> list[str]:
    return [visible(c.body) for c in stack.hub.state.thread_of(thread) if c.via_app]


@pytest.mark.parametrize("cancel_arrives_first", [True, False])
async def test_cancel_and_a_new_task_posted_together_stop_only_the_old_run(
    make_stack: StackFactory, cancel_arrives_first: bool
) -> None:
    """The issue's race: `cancel` and a new task posted together while a run waits. Whichever
    webhook arrives first, the old run is cancelled and the new task (posted after the cancel)
    runs to its pull request; the approve posted last reaches the new run."""
    async with make_stack(scripts(2), APPROVAL) as stack:
        old = await stack.command("/orchestrate fix the typo")
        await waiting_for_approval(stack, old)
        cancel = written(stack, "/orchestrate cancel")
        new = written(stack, "/orchestrate something else")
        deliveries = [(cancel, "/orchestrate cancel"), (new, "/orchestrate something else")]
        for comment_id, body in deliveries if cancel_arrives_first else deliveries[::-1]:
            await stack.deliver(body, issue=1, comment_id=comment_id)
        assert (await stack.finished_run(comment_id=old)).state == "cancelled by @maintainer"
        await waiting_for_approval(stack, new)
        await stack.command("/orchestrate approve")
        assert (await stack.finished_run(comment_id=new)).state == "done"
        [pull] = stack.pulls()
        assert pull.head_ref == "orchestrate/1-something-else"


async def test_a_cancel_delivered_after_a_newer_task_started_leaves_that_task_alone(
    make_stack: StackFactory,
) -> None:
    """`cancel` then a task, posted together on an idle issue; the task's webhook comes first
    and its run starts. The cancel, posted before the task, does not stop it (it says nothing
    was cancelled); the run reaches its pull request."""
    async with make_stack(scripts(1), APPROVAL) as stack:
        cancel = written(stack, "/orchestrate cancel")
        task = await stack.command("/orchestrate fix the typo")
        await waiting_for_approval(stack, task)
        await stack.deliver("/orchestrate cancel", issue=1, comment_id=cancel)
        await eventually(lambda: messages.nothing_to_cancel("maintainer") in stack.app_comments())
        await stack.command("/orchestrate approve")
        assert (await stack.finished_run(comment_id=task)).state == "done"
        assert len(stack.pulls()) == 1


async def test_cancel_all_stops_the_run_and_drops_earlier_tasks_even_late_ones(
    make_stack: StackFactory,
) -> None:
    """A run waits, two tasks are queued (each told so, with the run's link); `cancel all`
    stops the run and drops both with a reply; a task written before it but delivered after is
    dropped too; a task after it runs. Only two plans were ever asked for."""
    async with make_stack(scripts(2), APPROVAL) as stack:
        running = await stack.command("/orchestrate fix the typo")
        await waiting_for_approval(stack, running)
        link = await stack.run_handle(comment_id=running).query(RunWorkflow.link)
        # One after the other: commands posted together may reach the queue in either order
        # (each place is told as it arrives; the queue itself keeps the posting order).
        await stack.command("/orchestrate second")
        await eventually(lambda: len(stack.app_comments()) == 2)
        await stack.command("/orchestrate third")
        await eventually(lambda: len(stack.app_comments()) == 3)
        assert stack.app_comments()[1:] == [
            messages.run_queued("maintainer", 1, link),
            messages.run_queued("maintainer", 2, link),
        ]
        late = written(stack, "/orchestrate late")
        await stack.command("/orchestrate cancel all")
        assert (await stack.finished_run(comment_id=running)).state == "cancelled by @maintainer"
        await stack.deliver("/orchestrate late", issue=1, comment_id=late)
        after = await stack.command("/orchestrate after the cancel")
        await waiting_for_approval(stack, after)
        dropped = messages.cancelled_before_start("maintainer", "maintainer")
        assert stack.app_comments().count(dropped) == 3
        assert len(stack.model.requests_for("submit_plan")) == 2


async def test_a_repeated_enqueue_runs_the_task_once(
    make_stack: StackFactory, temporal_client: Client, task_queue: str
) -> None:
    """The command workflow's enqueue retried after a lost answer (the same signal-with-start
    three more times): one run, no queued reply to itself, one plan."""
    async with make_stack(scripts(1), APPROVAL) as stack:
        comment_id = await stack.command("/orchestrate fix the typo")
        await waiting_for_approval(stack, comment_id)
        history = await stack.run_handle(comment_id=comment_id).fetch_history()
        payload = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
        client = RunClient(temporal_client)
        for _ in range(3):
            await client.enqueue(json.loads(payload.data), task_queue)
        await stack.command("/orchestrate approve")
        assert (await stack.finished_run(comment_id=comment_id)).state == "done"
        assert len(stack.model.requests_for("submit_plan")) == 1
        assert len(stack.app_comments()) == 1 and len(stack.pulls()) == 1


async def test_a_task_queued_before_the_plan_links_the_running_command(
    make_stack: StackFactory,
) -> None:
    """The running run has no status comment yet (its plan call is in flight): the queued reply
    links the running command's comment, a page a user can open, never a workflow id."""
    script = scripts(2)
    held = dataclasses.replace(plan_turn(("implement",), "small"), hold=True)
    script["submit_plan"] = [held, *script["submit_plan"][1:]]
    async with make_stack(script) as stack:
        first = await stack.command("/orchestrate fix the typo")
        await eventually(lambda: stack.model.held == 1)
        await stack.command("/orchestrate second")
        await eventually(lambda: stack.app_comments())
        [reply] = stack.app_comments()
        # The command's html_url as the webhook payload gave it (GitHub's page of the comment).
        command = f"https://github.com/{OWNER}/{stack.repo}/issues/1#issuecomment-{first}"
        assert reply == messages.run_queued("maintainer", 1, command)
        stack.model.release_held()
        second = stack.run_commands[1][-1]
        assert (await stack.finished_run(comment_id=second)).state == "done"


async def test_follow_ups_on_one_pull_request_run_one_after_another(
    make_stack: StackFactory,
) -> None:
    """Two review-thread commands on the app's pull request: the second is answered in its own
    thread that it is queued, and runs after the first; both push to the one pull request."""
    script = scripts(3)
    script["implement"] = [
        TYPO,
        TYPO,
        *[edit_then_finish("cli.py", '"""A tiny command-line tool."""', '"""A tool."""')] * 2,
        *[edit_then_finish("README.md", "## Usage", "## How to use")] * 2,
    ]
    plan = plan_turn(("implement",), "small")
    # The first follow-up's plan waits until the second follow-up is queued.
    script["submit_plan"] = [plan, dataclasses.replace(plan, hold=True), plan]
    async with make_stack(script) as stack:
        await stack.command("/orchestrate fix the typo")
        await stack.finished_run()
        [pull] = stack.pulls()
        first = await stack.review_command(
            "/orchestrate say more", pull=pull.number, path="cli.py", line=1
        )
        await eventually(lambda: stack.model.held == 1)  # the first one runs
        second = await stack.review_command(
            "/orchestrate say even more", pull=pull.number, path="cli.py", line=2
        )
        await eventually(lambda: thread_replies(stack, second))
        assert thread_replies(stack, second)[0].startswith("@maintainer a run is already going")
        stack.model.release_held()
        one = await stack.finished_run(issue=pull.number, comment_id=first)
        two = await stack.finished_run(issue=pull.number, comment_id=second)
        assert (one.state, two.state) == ("done", "done")
        [still] = stack.pulls()
        cli = stack.hub.read_file(OWNER, stack.repo, still.head_ref, "cli.py") or ""
        readme = stack.hub.read_file(OWNER, stack.repo, still.head_ref, "README.md") or ""
        assert '"""A tool."""' in cli and "## How to use" in readme
        assert thread_replies(stack, first)[0].startswith("Pushed 1 commit")


async def test_the_issue_workflow_continues_as_new_and_keeps_its_queue(
    make_stack: StackFactory, temporal_client: Client, task_queue: str
) -> None:
    """With one run per history, the issue workflow continues as new after the first run,
    carrying the queued second task, which then runs."""
    async with make_stack(scripts(2)) as stack:
        # Started ahead of the commands with a lower limit; a cancel-all of nothing real keeps
        # it waiting for them (a workflow with a cancel in memory waits for late commands).
        carried = IssueQueueState(runs_per_history=1, cancel_all=Cancel(before=1, by="nobody"))
        await temporal_client.start_workflow(
            IssueWorkflow.run, carried, id=stack.issue_handle().id, task_queue=task_queue
        )
        first = await stack.command("/orchestrate fix the typo")
        second = await stack.command("/orchestrate something else")
        assert (await stack.finished_run(comment_id=first)).state == "done"
        assert (await stack.finished_run(comment_id=second)).state == "done"
        query = f"WorkflowId = '{stack.issue_handle().id}'"
        statuses = [w.status async for w in temporal_client.list_workflows(query)]
        assert WorkflowExecutionStatus.CONTINUED_AS_NEW in statuses
        assert len(stack.model.requests_for("submit_plan")) == 2 and len(stack.pulls()) == 2

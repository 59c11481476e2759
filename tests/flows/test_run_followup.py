"""Follow-ups: `/orchestrate <change>` in a review thread of a pull request the app opened."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from bot.activities.repo import attribute_range
from bot.render.attribution import render_table
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, Turn
from tests.support.project import edit, plan_turn
from tests.support.runstack import OWNER, run_stack
from tests.support.stack import visible

FIRST = [
    Turn(tool_calls=[edit("README.md", "A tiny command-line tool.", "A tiny command-line tool!")]),
    Turn(text="Fixed."),
]
FOLLOW = [
    Turn(
        tool_calls=[
            edit("cli.py", "A tiny command-line tool.", "A tiny command-line tool that greets.")
        ]
    ),
    Turn(text="Docstring changed."),
]


async def test_follow_up_in_a_review_thread_pushes_replies_and_refreshes(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """A review-thread command runs on the PR's branch: a new commit, an answer in the thread,
    a rocket on the comment, the PR body's table refreshed from git; still one PR."""
    scripts = {
        "submit_plan": [plan_turn(("implement",), "small"), plan_turn(("implement",), "small")],
        "implement": [*FIRST, *FOLLOW],
    }
    with ScriptedModel(scripts) as model:
        async with run_stack(hub, temporal_client, task_queue, repo_name, model, tmp_path) as stack:
            await stack.command("/orchestrate fix the typo")
            await stack.finished_run()
            [pull] = stack.pulls()
            head_before = stack.hub.branch_sha(OWNER, stack.repo, pull.head_ref)

            thread = await stack.review_command(
                "/orchestrate say what the tool does", pull=pull.number, path="cli.py", line=7
            )
            progress = await stack.finished_run(issue=pull.number)
            assert progress.state == "done", (
                progress.state,
                [r.output_tail for r in progress.rounds],
            )

            [refreshed] = stack.pulls()
            head_after = stack.hub.branch_sha(OWNER, stack.repo, refreshed.head_ref)
            assert head_after != head_before
            cli = stack.hub.read_file(OWNER, stack.repo, refreshed.head_ref, "cli.py") or ""
            assert "that greets" in cli
            base = stack.hub.branch_sha(OWNER, stack.repo, "main")
            assert base is not None
            table = render_table(
                await attribute_range(stack.bare, base, refreshed.head_ref), max_rows=300
            )
            assert table in (refreshed.body or "") and "cli.py" in table and "README.md" in table
            replies = [c for c in stack.hub.state.thread_of(thread) if c.via_app]
            assert len(replies) == 1 and visible(replies[0].body).startswith("Pushed 1 commit")
            assert [r.content for r in stack.hub.state.reactions_on(thread, "review_comment")] == [
                "eyes",
                "rocket",
            ]
            # The planner saw the thread's place in the diff.
            follow_plan = model.requests_for("submit_plan")[1].body
            assert "review comment on cli.py, line 7" in str(follow_plan["messages"])


async def test_follow_up_on_someone_elses_pull_request_is_refused(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The app works only on pull requests it opened: elsewhere it answers why and does nothing."""
    with ScriptedModel({}) as model:
        async with run_stack(hub, temporal_client, task_queue, repo_name, model, tmp_path) as stack:
            hub.commit(OWNER, stack.repo, "feature", {"cli.py": "print('x')\n"})
            number = hub.add_pull(
                OWNER, stack.repo, "feature", title="A person's change", body="", user="octocat"
            )
            thread = await stack.review_command(
                "/orchestrate rewrite it", pull=number, path="cli.py", line=1
            )
            progress = await stack.finished_run(issue=number)
            assert progress.state == "refused: I only follow up on pull requests that I opened."
            [answer] = [c for c in stack.hub.state.thread_of(thread) if c.via_app]
            assert visible(answer.body) == "I only follow up on pull requests that I opened."
            assert model.requests == []
            assert [p for p in stack.hub.state.pushes_to(OWNER, stack.repo) if p.via == "git"] == []

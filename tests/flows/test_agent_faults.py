"""Faults an agent meets on the real stack (fakehub, the scripted model, Temporal, git, bwrap):
model errors retried inside the agent with every token counted, an agent that still fails
making a draft that names it, git pushes and fetches that fail or lose their answer, and a run
with nothing to change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.core.plan import ORCHESTRATOR
from bot.render import messages
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel, Turn
from tests.support.costs import cost_rows, tokens
from tests.support.project import (
    README_MD,
    create,
    edit,
    plan_turn,
    verbose_scripts,
)
from tests.support.runstack import OWNER, RunStack, run_stack

pytestmark = pytest.mark.durability
DOCS_LINE = "    python cli.py --verbose   # print 'verbose mode' first\n"
PASSING_TEST = "from cli import main\n\n\ndef test_quiet():\n    assert main([]) == 0\n"


def overloaded(times: int) -> list[Turn]:
    """529s that ask for no wait (the retries come at once)."""
    return [Turn(error=529, retry_after=0) for _ in range(times)]


@asynccontextmanager
async def stack_for(
    scripts: dict[str, Script], hub: FakeHub, client: Client, queue: str, repo: str, tmp: Path
) -> AsyncIterator[RunStack]:
    with ScriptedModel(scripts) as model:
        async with run_stack(hub, client, queue, repo, model, tmp) as stack:
            yield stack


async def test_model_faults_are_retried_and_every_token_counted(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """429 (with retry-after), 529, 500 and connections dropped before and in the middle of
    an answer, for the planner and each agent: all retried for the same request; the run is
    done (no draft), and the PR's cost table equals what the model served, row by row."""
    scripts = verbose_scripts(turns_each=2)
    scripts["implement"] = [Turn(error=429, retry_after=0.2), *scripts["implement"]]
    test_script = list(scripts["test"])
    scripts["test"] = [test_script[0], Turn(text="x", drop="before"), *test_script[1:]]
    scripts["docs"] = [Turn(error=500), Turn(text="x", drop="mid"), *scripts["docs"]]
    scripts["submit_plan"] = [*overloaded(1), plan_turn()]
    async with stack_for(scripts, hub, temporal_client, task_queue, repo_name, tmp_path) as stack:
        await stack.command("/orchestrate add a --verbose flag to the CLI")
        progress = await stack.finished_run()
        assert progress.state == "done", progress.state
        [pull] = stack.pulls()
        assert not pull.draft
        rows = cost_rows(pull.body or "")
        model = stack.model
        assert rows["implement (2 runs)"] == tokens(model.served_usage("implement"))
        assert rows["test"] == tokens(model.served_usage("test"))
        assert rows["docs"] == tokens(model.served_usage("docs"))
        planner = model.served_usage("submit_plan")
        warm = model.served_usage("default")
        assert warm.requests == 1 and planner.requests == 1
        assert rows[ORCHESTRATOR] == tuple(
            a + b for a, b in zip(tokens(planner), tokens(warm), strict=True)
        )
        assert rows["Total"] == tokens(model.served_usage())
        assert model.served_usage(delivered=False).requests == 2  # the two dropped answers
        assert len(model.requests_for("docs")) == len(scripts["docs"])  # nothing done twice


async def test_an_agent_that_still_fails_makes_a_draft_naming_it(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The docs agent edits README.md, then the model stays overloaded past its retries: its
    edit is committed and lands, the PR is a draft whose first line names the docs agent and
    why, the state says its work is missing; never plain "done"."""
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("test", "docs"))],
        "test": [
            Turn(tool_calls=[create("tests/test_quiet.py", PASSING_TEST)]),
            Turn(text="Tests added."),
        ],
        "docs": [
            Turn(
                tool_calls=[
                    edit("README.md", "    python cli.py\n", "    python cli.py\n" + DOCS_LINE)
                ]
            ),
            *overloaded(6),
        ],
    }
    async with stack_for(scripts, hub, temporal_client, task_queue, repo_name, tmp_path) as stack:
        await stack.command("/orchestrate add a --verbose flag to the CLI")
        progress = await stack.finished_run()
        assert progress.state == "done (draft: the docs agent's work is missing)"
        assert progress.lines["docs"].status == "failed"
        [pull] = stack.pulls()
        first = (pull.body or "").splitlines()[0]
        assert pull.draft
        assert first.startswith(
            "⚠️ **Draft:** the docs agent failed in round 1 (Messages API answered 529 "
            "(overloaded\\_error: scripted error) (after 6 tries)), so its work may be missing."
        ), first
        readme = stack.hub.read_file(OWNER, stack.repo, pull.head_ref, "README.md")
        assert readme == README_MD.replace("    python cli.py\n", "    python cli.py\n" + DOCS_LINE)
        assert len(stack.model.requests_for("docs")) == 7  # one turn, then six tries


async def test_pushes_and_fetches_that_fail_or_lose_their_answer_are_retried(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """As the agent finishes: two pushes answered 500, a push applied whose answer is lost,
    two fetches answered 500. Its commit reaches its own branch, lands on the scratch branch
    (the land activity retried), and the PR has its work; nothing forced, its branch deleted."""
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("test",))],
        "test": [
            Turn(tool_calls=[create("tests/test_quiet.py", PASSING_TEST)]),
            Turn(text="Tests added."),
        ],
    }
    async with stack_for(scripts, hub, temporal_client, task_queue, repo_name, tmp_path) as stack:
        receive = rf"^/{OWNER}/{stack.repo}\.git/git-receive-pack$"

        def faults_from_now(_: object) -> None:
            hub.inject("POST", receive, status=500, times=2)
            hub.inject_push_lost(OWNER, stack.repo)
            hub.inject_fetch_failure(OWNER, stack.repo, times=2)

        stack.model.on_request("test", faults_from_now, nth=2)
        await stack.command("/orchestrate add tests for --verbose")
        progress = await stack.finished_run()
        assert progress.state == "done", progress.state
        [pull] = stack.pulls()
        scratch = pull.head_ref
        own = f"{scratch}--test-r1"
        assert stack.hub.read_file(OWNER, stack.repo, scratch, "tests/test_quiet.py")
        pushes = stack.hub.state.pushes_to(OWNER, stack.repo)
        assert [(p.ref.removeprefix("refs/heads/"), p.new == "0" * 40) for p in pushes] == [
            (scratch, False),  # the scratch branch, created
            (own, False),  # the agent's commit (its answer lost)
            (scratch, False),  # landed
            (own, True),  # its branch, deleted at the end
        ]
        assert not any(p.forced for p in pushes)
        assert len(stack.model.requests_for("test")) == 2


async def test_nothing_to_change_is_done_with_a_comment(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """An agent that changes nothing: no pull request (no 422 failure), the run is done with
    nothing to change, and a comment says so."""
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("docs",))],
        "docs": [Turn(text="The README already says everything.")],
    }
    async with stack_for(scripts, hub, temporal_client, task_queue, repo_name, tmp_path) as stack:
        await stack.command("/orchestrate document the flag")
        progress = await stack.finished_run()
        assert progress.state == "done: nothing to change"
        assert stack.pulls() == []
        assert stack.app_comments()[-1] == messages.nothing_to_change()


async def test_no_commit_and_a_failed_agent_fails_the_run_naming_it(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The only agent fails before changing anything: the run fails (not "nothing to change"),
    and its comment names the agent and why."""
    scripts: dict[str, Script] = {"submit_plan": [plan_turn(("docs",))], "docs": overloaded(6)}
    async with stack_for(scripts, hub, temporal_client, task_queue, repo_name, tmp_path) as stack:
        await stack.command("/orchestrate document the flag")
        progress = await stack.finished_run()
        assert progress.state.startswith("failed: the docs agent failed in round 1 ("), (
            progress.state
        )
        assert stack.pulls() == []
        failure = stack.app_comments()[-1]
        assert failure.startswith("The run failed:") and "the docs agent failed" in failure

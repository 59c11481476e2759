"""A whole run on the real stack: fakehub, the scripted model server, Temporal, git, bwrap."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.activities.repo import attribute_range
from bot.render.attribution import render_table
from bot.render.plan_comment import PLAN_MARKER
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel
from tests.support.project import plan_turn, verbose_scripts
from tests.support.runstack import OWNER, RunStack, run_stack


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
async def verbose_run(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> AsyncIterator[RunStack]:
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn()],
        **verbose_scripts(turns_each=2, meet_first=True),
    }
    with ScriptedModel(scripts) as model:
        async with run_stack(hub, temporal_client, task_queue, repo_name, model, tmp_path) as stack:
            yield stack


async def test_verbose_flag_end_to_end(verbose_run: RunStack) -> None:
    """Plan comment → three agents → round 1 fails → implementer fixes → one PR whose
    attribution table matches git exactly; one status comment edited in place; rocket."""
    stack = verbose_run
    comment_id = await stack.command("/orchestrate add a --verbose flag to the CLI")
    progress = await stack.finished_run()

    assert progress.state == "done", progress.state
    assert [r.passed for r in progress.rounds] == [False, True]
    assert progress.rounds[0].sent_to == "implement"
    # The checklist counts each model turn once, over both of the implementer's rounds.
    assert {role: line.turns for role, line in progress.lines.items()} == {
        role: len(stack.model.requests_for(role)) for role in ("implement", "test", "docs")
    }

    [status] = stack.app_comments()  # the one status comment, nothing else
    assert status.startswith(PLAN_MARKER)
    assert progress.pr_url and progress.pr_url in status

    [pull] = stack.pulls()
    assert not pull.draft
    assert (pull.head_ref, pull.base_ref) == ("orchestrate/1-add-a-verbose-flag-to-the-cli", "main")
    assert pull.body is not None
    assert "Closes #1" in pull.body
    base = _git(stack.bare, "rev-parse", "main").strip()
    expected = render_table(await attribute_range(stack.bare, base, pull.head_ref), max_rows=300)
    assert expected in pull.body
    assert "verbose-output" in pull.body  # the shared memory note, in the details block

    trailers = _git(
        stack.bare,
        "log",
        "--format=%(trailers:key=Orchestrate-Agent,valueonly)",
        f"main..{pull.head_ref}",
    )
    assert sorted(t for t in trailers.split() if t) == ["docs", "implement", "implement", "test"]
    assert all(not push.forced for push in stack.hub.state.pushes_to(OWNER, stack.repo))
    assert [r.content for r in stack.hub.state.reactions_on(comment_id)] == ["eyes", "rocket"]


async def test_no_secret_reaches_a_model_a_comment_or_the_branch(verbose_run: RunStack) -> None:
    """Installation tokens, the app key and the model key appear in no model request, no
    comment, no PR body and no pushed file."""
    stack = verbose_run
    await stack.command("/orchestrate add a --verbose flag to the CLI")
    await stack.finished_run()
    secrets = [
        *stack.hub.state.issued_tokens,
        "test-key",
        stack.hub.private_key_pem.splitlines()[1],
    ]
    assert len(secrets) > 2  # the run did mint installation tokens
    seen = [json.dumps(r.body) for r in stack.model.requests]
    seen += [c.body for c in stack.hub.state.comments.values()]
    seen += [p.body or "" for p in stack.pulls()]
    [pull] = stack.pulls()
    seen += [_git(stack.bare, "show", pull.head_ref)]
    seen += [_git(stack.bare, "log", "-p", f"main..{pull.head_ref}")]
    for text in seen:
        for secret in secrets:
            assert secret not in text


async def test_agents_really_overlap_in_time(verbose_run: RunStack) -> None:
    """The three agents' first model calls are in flight at the same moment: each is held at a
    barrier until all three arrived (agents run one after another would never finish)."""
    stack = verbose_run
    await stack.command("/orchestrate add a --verbose flag to the CLI")
    await stack.finished_run()
    firsts = [stack.model.requests_for(role)[0] for role in ("implement", "test", "docs")]
    assert max(r.started_at for r in firsts) < min(r.ended_at for r in firsts)

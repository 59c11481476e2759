"""GitHub failing under a whole run (fakehub faults, the real stack): answers lost after GitHub
applied the change, rate limits on every route the app calls, a run that fails before its
status comment, a status comment that cannot be edited. Each ends with exactly one of each
thing the app creates, and the user told."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError

from bot.render import messages
from bot.render.plan_comment import PLAN_MARKER
from bot.workflows.run import RunWorkflow
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel, Turn
from tests.support.project import PROJECT_FILES, edit_then_finish, plan_turn
from tests.support.runstack import OWNER, RunStack, run_stack
from tests.support.stack import eventually, visible

pytestmark = pytest.mark.durability
TYPO = edit_then_finish("README.md", "A tiny command-line tool.", "A tiny command-line tool!")
ONE_AGENT: dict[str, Script] = {
    "submit_plan": [plan_turn(("implement",), "small")],
    "implement": [TYPO, TYPO],
}
_installations = itertools.count(900)
StackFactory = Callable[..., AbstractAsyncContextManager[RunStack]]


@pytest.fixture
def make_stack(
    hub: FakeHub, temporal_client: Client, task_queue: str, tmp_path: Path
) -> StackFactory:
    """Stacks of their own (repository, installation, model, worker, task queue): several can
    run at once without sharing a fault."""
    names = itertools.count(1)

    @asynccontextmanager
    async def factory(script: dict[str, Script] | None = None) -> AsyncIterator[RunStack]:
        number = next(names)
        files = dict(PROJECT_FILES) | {".github/orchestrate.yml": "max_rounds: 1\n"}
        with ScriptedModel(dict(script or ONE_AGENT)) as model:
            async with run_stack(
                hub, temporal_client, f"{task_queue}-{number}", f"{task_queue}-r{number}",
                model, tmp_path / str(number), files=files,
                installation_id=next(_installations),
            ) as stack:  # fmt: skip
                yield stack

    return factory


def assert_one_of_each(stack: RunStack, comment_id: int) -> None:
    """One status comment (the plan, done), one pull request, eyes and rocket once each."""
    [status] = stack.app_comments()
    assert status.startswith(PLAN_MARKER) and "· done" in status
    assert len(stack.pulls()) == 1
    assert sorted(r.content for r in stack.hub.state.reactions_on(comment_id)) == [
        "eyes",
        "rocket",
    ]


def lost(hub: FakeHub, repo: str) -> list[tuple[str, str]]:
    """(method, path) of each request of `repo` whose answer was lost after it was applied."""
    return [(m, p) for m, p, _ in hub.state.lost_answers if f"/{repo}/" in p]


async def test_answers_lost_on_every_creating_route_leave_one_of_each(
    make_stack: StackFactory,
) -> None:
    """GitHub applies the status comment, both reactions and the pull request, and each answer
    is lost (a 502, a closed connection, half an answer): the retries find what exists."""
    async with make_stack() as stack:
        base = rf"^/repos/{OWNER}/{stack.repo}"
        stack.hub.inject_lost_answer("POST", rf"{base}/issues/1/comments$", cut="before")
        stack.hub.inject_lost_answer("POST", rf"{base}/issues/comments/\d+/reactions$", times=2)
        stack.hub.inject_lost_answer("POST", rf"{base}/pulls$", cut="mid")
        comment_id = await stack.command("/orchestrate fix the typo")
        assert (await stack.finished_run()).state == "done"
        assert_one_of_each(stack, comment_id)
        assert sorted(m + " " + p.rsplit("/", 1)[-1] for m, p in lost(stack.hub, stack.repo)) == [
            "POST comments",
            "POST pulls",
            "POST reactions",
            "POST reactions",
        ]


async def test_a_command_reply_whose_answer_was_lost_is_posted_once(
    make_stack: StackFactory,
) -> None:
    """`/orchestrate help`: the reply is created but its answer lost; one help reply."""
    async with make_stack() as stack:
        route = rf"^/repos/{OWNER}/{stack.repo}/issues/1/comments$"
        stack.hub.inject_lost_answer("POST", route)
        await stack.command("/orchestrate help")
        await eventually(lambda: lost(stack.hub, stack.repo) and stack.app_comments())
        await asyncio.sleep(2)  # room for a (wrong) second reply
        assert stack.app_comments() == [messages.help_text()]


async def test_a_follow_up_reply_whose_answer_was_lost_is_posted_once(
    make_stack: StackFactory,
) -> None:
    """The answer in a review thread is created but its answer lost: one reply in the thread."""
    script: dict[str, Script] = {
        "submit_plan": [plan_turn(("implement",), "small")] * 2,
        "implement": [
            TYPO,
            TYPO,
            *[edit_then_finish("README.md", "## Usage", "## How to use")] * 2,
        ],
    }
    async with make_stack(script) as stack:
        await stack.command("/orchestrate fix the typo")
        await stack.finished_run()
        [pull] = stack.pulls()
        replies = rf"^/repos/{OWNER}/{stack.repo}/pulls/{pull.number}/comments/\d+/replies$"
        stack.hub.inject_lost_answer("POST", replies, cut="before")
        thread = await stack.review_command(
            "/orchestrate rename the usage section", pull=pull.number, path="cli.py", line=1
        )
        assert (await stack.finished_run(issue=pull.number)).state == "done"
        answers = [visible(c.body) for c in stack.hub.state.thread_of(thread) if c.via_app]
        assert len(answers) == 1 and answers[0].startswith("Pushed 1 commit")
        assert len(lost(stack.hub, stack.repo)) == 1


@dataclass(frozen=True)
class Limit:
    """One kind of rate limit, as fakehub answers it (see tests/fakehub/ratelimit.py)."""

    kind: str
    status: int = 403
    retry_after: int | None = 1
    reset_in: float = 60.0


LIMITS = {
    "secondary 403, retry-after": Limit("secondary"),
    "secondary 429, retry-after": Limit("secondary", 429),
    "secondary, blocked from content creation": Limit("secondary-content"),
    "abuse detection": Limit("abuse"),
    "primary 403, reset": Limit("primary", retry_after=None, reset_in=1),
    "primary 429, reset": Limit("primary", 429, retry_after=None, reset_in=1),
}


def every_route(stack: RunStack) -> list[tuple[str, str]]:
    """Each REST route a run calls, from the command's permission check to the pull request.
    (`GET /app`, the app's own login, is one route for every test at once: its limit is in
    tests/github/test_rest.py.)"""
    base = rf"^/repos/{OWNER}/{stack.repo}"
    return [
        ("POST", rf"^/app/installations/{stack.installation_id}/access_tokens$"),
        ("GET", rf"{base}/collaborators/maintainer/permission$"),
        ("GET", rf"{base}$"),
        ("POST", rf"{base}/issues/comments/\d+/reactions$"),
        ("GET", rf"{base}/issues/1/comments$"),
        ("POST", rf"{base}/issues/1/comments$"),
        ("PATCH", rf"{base}/issues/comments/\d+$"),
        ("GET", rf"{base}/pulls$"),
        ("POST", rf"{base}/pulls$"),
    ]


async def limited_run(make_stack: StackFactory, limit: Limit) -> tuple[int, int]:
    """A run with `limit` once on every route; (routes limited, routes limited and then
    served) — the run must also end done with one of each."""
    async with make_stack() as stack:
        routes = every_route(stack)
        for method, route in routes:
            stack.hub.inject_rate_limit(
                method, route, limit.kind, status=limit.status, retry_after=limit.retry_after,
                reset_in=limit.reset_in, installation_id=stack.installation_id,
            )  # fmt: skip
        comment_id = await stack.command("/orchestrate fix the typo")
        assert (await stack.finished_run(timeout=180)).state == "done"
        assert_one_of_each(stack, comment_id)
        log = [(m, p, s) for m, p, s in stack.hub.state.requests]
        limited = survived = 0
        for method, route in routes:
            statuses = [s for m, p, s in log if m == method and re.search(route, p)]
            limited += statuses[:1] == [limit.status]
            survived += statuses[:1] == [limit.status] and any(s < 300 for s in statuses[1:])
        return limited, survived


async def test_rate_limits_on_every_route_are_waited_out(make_stack: StackFactory) -> None:
    """Every kind of GitHub rate limit, once on every route a run calls (token, permission,
    repository, reactions, comments listed, posted and edited, pull requests listed and
    opened): each is waited out and the run completes with one of each. A secondary limit
    that names no wait is retried after at least a minute, not after the policy's backoff."""
    minute = asyncio.ensure_future(minute_wait(make_stack))
    results = await asyncio.gather(*(limited_run(make_stack, limit) for limit in LIMITS.values()))
    for name, (limited, survived) in zip(LIMITS, results, strict=True):
        print(f"rate limit {name}: survived {survived}/{limited} routes")
        assert limited == survived == 9, name
    waited = await minute
    print(f"secondary limit without retry-after: retried after {waited:.1f}s")
    assert waited >= 59


async def minute_wait(make_stack: StackFactory) -> float:
    """GitHub's documented fallback: a secondary limit naming no wait, on the status comment's
    creation; the seconds between the refused request and the next one (the run completes)."""
    async with make_stack() as stack:
        route = rf"^/repos/{OWNER}/{stack.repo}/issues/1/comments$"
        stack.hub.inject_rate_limit("POST", route, "secondary", retry_after=None)
        seen: list[float] = []
        stack.hub.on_request("POST", route, lambda _: seen.append(time.monotonic()), times=2)
        comment_id = await stack.command("/orchestrate fix the typo")
        assert (await stack.finished_run(timeout=180)).state == "done"
        assert_one_of_each(stack, comment_id)
        assert len(seen) == 2
        return seen[1] - seen[0]


async def test_a_run_failing_before_its_status_comment_replies_on_the_command(
    make_stack: StackFactory,
) -> None:
    """The planner call is refused for good (a 400): no status comment exists, so the run
    answers the command with why it failed, once, under its marker."""
    async with make_stack({"submit_plan": [Turn(error=400)]}) as stack:
        await stack.command("/orchestrate fix the typo")
        progress = await _failed_run(stack)
        reason = "Messages API answered 400 (invalid_request_error: scripted error)"
        assert progress == f"failed: {reason}"
        assert stack.app_comments() == [messages.run_failed(reason)]
        [marked] = stack.marked_app_comments()
        assert marked.startswith(f"<!-- orchestrate:run={stack.run_handle().id} kind=failure -->")


async def _failed_run(stack: RunStack) -> str:
    """The state a failed run ended in (it fails, so its progress comes from a query)."""
    with pytest.raises(WorkflowFailureError):
        await stack.finished_run()
    progress = await stack.run_handle().query(RunWorkflow.progress)
    return progress.state


async def test_status_edits_that_fail_never_fail_the_run(make_stack: StackFactory) -> None:
    """Every edit of the status comment is refused: the run still opens its pull request and
    ends done; the comment keeps what it said when posted."""
    async with make_stack() as stack:
        edits = rf"^/repos/{OWNER}/{stack.repo}/issues/comments/\d+$"
        stack.hub.inject("PATCH", edits, status=403, times=-1)
        comment_id = await stack.command("/orchestrate fix the typo")
        assert (await stack.finished_run()).state == "done"
        [status] = stack.app_comments()
        assert "· running" in status
        assert len(stack.pulls()) == 1
        assert [r.content for r in stack.hub.state.reactions_on(comment_id)] == ["eyes", "rocket"]


async def test_a_failed_status_edit_is_made_good_by_the_next_one(make_stack: StackFactory) -> None:
    """The first edit fails; the next change is shown: the comment ends saying done and linking
    the pull request."""
    async with make_stack() as stack:
        edits = rf"^/repos/{OWNER}/{stack.repo}/issues/comments/\d+$"
        stack.hub.inject("PATCH", edits, status=403, times=1)
        comment_id = await stack.command("/orchestrate fix the typo")
        assert (await stack.finished_run()).state == "done"
        assert_one_of_each(stack, comment_id)
        [pull] = stack.pulls()
        assert f"/pull/{pull.number}" in stack.app_comments()[0]

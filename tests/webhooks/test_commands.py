"""Which comments become commands, and the request each one starts."""

from __future__ import annotations

import json

import pytest

from bot.core.commands import CommandKind
from bot.core.targets import CommentKind
from bot.webhooks.commands import command_request, default_router
from bot.webhooks.core import Event, Outcome, WebhookRejected, parse_event
from bot.workflows.shared import CommandRequest
from tests.support.payloads import (
    comment_event,
    example,
    review_comment_event,
)

SECRET = "It's a Secret to Everybody"


class RecordingStarter:
    def __init__(self) -> None:
        self.started: list[CommandRequest] = []

    async def start_command(self, request: CommandRequest) -> str:
        self.started.append(request)
        return f"wf-{request.comment_id}"


def as_event(payload: dict[str, object], name: str = "issue_comment") -> Event:
    return parse_event(name, "delivery-1", json.dumps(payload).encode())


async def test_command_comment_starts_a_workflow() -> None:
    """A real issue_comment.created with a command starts one workflow with its details."""
    payload = comment_event(
        "/orchestrate add a --verbose flag", owner="o", repo="r", repo_id=7, comment_id=55
    )
    starter = RecordingStarter()
    outcome = await default_router().dispatch(as_event(payload), starter)
    assert outcome == Outcome(202, {"status": "accepted", "workflow_id": "wf-55"})
    [request] = starter.started
    assert request.repo.full_name == "o/r" and request.repo.id == 7
    assert request.comment_kind is CommentKind.ISSUE and request.comment_id == 55
    assert request.command.kind is CommandKind.RUN
    assert request.command.task == "add a --verbose flag"
    assert request.installation_id == 1 and request.commenter == "octocat"
    assert request.issue_title == payload["issue"]["title"]
    assert request.comment_url == payload["comment"]["html_url"]
    assert request.comment_url.endswith("/o/r/issues/1#issuecomment-55")


@pytest.mark.parametrize("action", ["edited", "deleted"])
async def test_edits_and_deletions_are_ignored(action: str) -> None:
    """Editing or deleting a comment never starts anything."""
    payload = example("issue_comment", action)
    payload["comment"]["body"] = "/orchestrate help"
    starter = RecordingStarter()
    outcome = await default_router().dispatch(as_event(payload), starter)
    assert outcome == Outcome(
        200, {"status": "ignored", "reason": f"issue_comment.{action} is not handled"}
    )
    assert starter.started == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sender": {"login": "dependabot[bot]", "type": "Bot"}}, "sender is a bot"),
        ({"comment_app": {"id": 1, "slug": "orchestrate"}}, "comment was made by an app"),
        ({"body": "looks good to me"}, "no /orchestrate command"),
    ],
)
async def test_comments_that_are_not_commands_are_ignored(
    change: dict[str, object], reason: str
) -> None:
    """Bots, the app's own comments and plain comments are ignored."""
    payload = comment_event(
        str(change.get("body", "/orchestrate help")), owner="o", repo="r", repo_id=7
    )
    if "sender" in change:
        payload["sender"] = {**payload["sender"], **change["sender"]}  # type: ignore[dict-item]
    if "comment_app" in change:
        payload["comment"]["performed_via_github_app"] = change["comment_app"]
    starter = RecordingStarter()
    outcome = await default_router().dispatch(as_event(payload), starter)
    assert outcome == Outcome(200, {"status": "ignored", "reason": reason})
    assert starter.started == []


def test_command_request_from_a_pull_request_comment() -> None:
    """A comment on a pull request's conversation is marked as being on a pull request."""
    payload = comment_event("/orchestrate help", owner="o", repo="r", repo_id=7)
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    request = command_request(as_event(payload), CommentKind.ISSUE)
    assert isinstance(request, CommandRequest) and request.is_pull_request


async def test_command_in_a_payload_missing_fields_is_400() -> None:
    """A signed command payload without its repository is refused, not a 500."""
    payload = comment_event("/orchestrate help", owner="o", repo="r", repo_id=7)
    del payload["repository"]
    with pytest.raises(WebhookRejected) as caught:
        await default_router().dispatch(as_event(payload), RecordingStarter())
    assert caught.value.status == 400
    assert caught.value.message.startswith("payload lacks a field")


async def test_review_thread_command_starts_a_follow_up() -> None:
    """A command in a review thread (GitHub's example payload) is a follow-up on that PR."""
    payload = review_comment_event(
        "/orchestrate use a constant",
        owner="o",
        repo="r",
        repo_id=7,
        pull_number=12,
        comment_id=77,
        path="cli.py",
        line=3,
        diff_hunk="@@ -1 +1 @@",
    )
    starter = RecordingStarter()
    outcome = await default_router().dispatch(
        as_event(payload, "pull_request_review_comment"), starter
    )
    assert outcome.status == 202
    [request] = starter.started
    assert (request.comment_kind, request.issue_number, request.is_pull_request) == (
        CommentKind.REVIEW,
        12,
        True,
    )
    assert (request.review_path, request.review_line, request.review_diff_hunk) == (
        "cli.py",
        3,
        "@@ -1 +1 @@",
    )
    assert request.command.task == "use a constant"

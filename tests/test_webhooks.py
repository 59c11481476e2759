"""Webhook core without I/O: signatures, parsing, routing and which comments become commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.core.commands import CommandKind
from bot.core.targets import CommentKind
from bot.webhooks.app import create_app
from bot.webhooks.commands import command_request, default_router
from bot.webhooks.core import Event, Outcome, WebhookRejected, parse_event, verify_signature
from bot.webhooks.payload_checks import repository_id_in_node_id
from bot.workflows.shared import CommandRequest
from tests.support.payloads import (
    comment_event,
    example,
    review_comment_event,
    sign,
    webhook_headers,
)

SECRET = "It's a Secret to Everybody"


class RecordingStarter:
    def __init__(self) -> None:
        self.started: list[CommandRequest] = []

    async def start_command(self, request: CommandRequest) -> str:
        self.started.append(request)
        return f"wf-{request.comment_id}"


def test_github_documented_signature_is_accepted() -> None:
    """The test vector from GitHub's docs verifies."""
    verify_signature(
        SECRET.encode(),
        b"Hello, World!",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing X-Hub-Signature-256"),
        ("", "missing X-Hub-Signature-256"),
        (
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "signature must be sha256=<hex>",
        ),
        ("sha1=0123456789abcdef0123456789abcdef01234567", "signature must be sha256=<hex>"),
        ("sha256=", "signature must be sha256=<hex>"),
        ("sha256=" + "0" * 64, "signature does not match"),
    ],
)
def test_bad_signatures_are_rejected_with_401(header: str | None, message: str) -> None:
    """Missing, unprefixed, SHA-1 and wrong signatures are 401 with a reason."""
    with pytest.raises(WebhookRejected) as caught:
        verify_signature(SECRET.encode(), b"Hello, World!", header)
    assert (caught.value.status, caught.value.message) == (401, message)


def test_signature_covers_the_raw_bytes() -> None:
    """Re-serialised JSON with the same meaning does not verify: the raw body is signed."""
    body = b'{"a": 1}'
    with pytest.raises(WebhookRejected):
        verify_signature(SECRET.encode(), b'{"a":1}', sign(SECRET, body))


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        (None, b"{}", "missing X-GitHub-Event"),
        ("issue_comment", b"not json", "body is not JSON"),
        ("issue_comment", b"\xff\xfe", "body is not JSON"),
        ("issue_comment", b"[1, 2]", "body is not a JSON object"),
    ],
)
def test_unparseable_events_are_400(name: str | None, body: bytes, message: str) -> None:
    """No event name or a body that is not a JSON object is a 400."""
    with pytest.raises(WebhookRejected) as caught:
        parse_event(name, "d-1", body)
    assert (caught.value.status, caught.value.message) == (400, message)


def _event(payload: dict[str, object], name: str = "issue_comment") -> Event:
    return parse_event(name, "delivery-1", json.dumps(payload).encode())


async def test_command_comment_starts_a_workflow() -> None:
    """A real issue_comment.created with a command starts one workflow with its details."""
    payload = comment_event(
        "/orchestrate add a --verbose flag", owner="o", repo="r", repo_id=7, comment_id=55
    )
    starter = RecordingStarter()
    outcome = await default_router().dispatch(_event(payload), starter)
    assert outcome == Outcome(202, {"status": "accepted", "workflow_id": "wf-55"})
    [request] = starter.started
    assert request.repo.full_name == "o/r" and request.repo.id == 7
    assert request.comment_kind is CommentKind.ISSUE and request.comment_id == 55
    assert request.command.kind is CommandKind.RUN
    assert request.command.task == "add a --verbose flag"
    assert request.installation_id == 1 and request.commenter == "octocat"
    assert request.issue_title == payload["issue"]["title"]


@pytest.mark.parametrize("action", ["edited", "deleted"])
async def test_edits_and_deletions_are_ignored(action: str) -> None:
    """Editing or deleting a comment never starts anything."""
    payload = example("issue_comment", action)
    payload["comment"]["body"] = "/orchestrate help"
    starter = RecordingStarter()
    outcome = await default_router().dispatch(_event(payload), starter)
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
    outcome = await default_router().dispatch(_event(payload), starter)
    assert outcome == Outcome(200, {"status": "ignored", "reason": reason})
    assert starter.started == []


async def test_ping_and_unhandled_events() -> None:
    """ping is answered 200; events the app does not handle are 200 ignored."""
    starter = RecordingStarter()
    router = default_router()
    assert await router.dispatch(_event(example("ping"), "ping"), starter) == Outcome(
        200, {"status": "pong"}
    )
    push = await router.dispatch(_event({"ref": "refs/heads/main"}, "push"), starter)
    assert push == Outcome(200, {"status": "ignored", "reason": "push.- is not handled"})
    assert starter.started == []


def test_command_request_from_a_pull_request_comment() -> None:
    """A comment on a pull request's conversation is marked as being on a pull request."""
    payload = comment_event("/orchestrate help", owner="o", repo="r", repo_id=7)
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    request = command_request(_event(payload), CommentKind.ISSUE)
    assert isinstance(request, CommandRequest) and request.is_pull_request


async def test_command_in_a_payload_missing_fields_is_400() -> None:
    """A signed command payload without its repository is refused, not a 500."""
    payload = comment_event("/orchestrate help", owner="o", repo="r", repo_id=7)
    del payload["repository"]
    with pytest.raises(WebhookRejected) as caught:
        await default_router().dispatch(_event(payload), RecordingStarter())
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
        _event(payload, "pull_request_review_comment"), starter
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


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets one dotted field of a payload (None deletes it)."""
    *parents, last = path.split(".")

    def mutate(payload: dict[str, Any]) -> None:
        target = payload
        for key in parents:
            target = target[key]
        if value is None:
            del target[last]
        else:
            target[last] = value

    return mutate


DISAGREES = "payload disagrees with itself: "
ISSUE_PAYLOAD_PROBLEMS = [
    pytest.param(_set("installation", None), "payload has no installation", id="no-installation"),
    pytest.param(
        _set("installation", {"id": "1"}),
        "payload has no installation",
        id="installation-id-not-int",
    ),
    pytest.param(
        _set("repository", None), "payload lacks a field: repository.id", id="no-repository"
    ),
    pytest.param(
        _set("repository.id", True), "payload lacks a field: repository.id", id="repository-id-bool"
    ),
    pytest.param(
        _set("repository.id", 8),
        DISAGREES + "repository.id is 8, repository.node_id 'MDEwOlJlcG9zaXRvcnk3' says 7",
        id="id-disagrees-with-node-id",
    ),
    pytest.param(
        _set("repository.name", "other"),
        DISAGREES + "repository.full_name is 'o/r', expected 'o/other'",
        id="name-disagrees-with-full-name",
    ),
    pytest.param(
        _set("repository.owner.login", "evil"),
        DISAGREES + "repository.full_name is 'o/r', expected 'evil/r'",
        id="owner-disagrees-with-full-name",
    ),
    pytest.param(
        _set("repository.url", "https://api.github.com/repos/o/other"),
        DISAGREES
        + "repository.url is 'https://api.github.com/repos/o/other', expected a URL ending in '/repos/o/r'",
        id="repository-url",
    ),
    pytest.param(
        _set("issue.repository_url", "https://api.github.com/repos/evil/r"),
        DISAGREES
        + "issue.repository_url is 'https://api.github.com/repos/evil/r', expected a URL ending in '/repos/o/r'",
        id="issue-repository-url",
    ),
    pytest.param(
        _set("comment.issue_url", "https://api.github.com/repos/o/r/issues/2"),
        DISAGREES
        + "comment.issue_url is 'https://api.github.com/repos/o/r/issues/2', expected a URL ending in '/repos/o/r/issues/1'",
        id="comment-on-another-issue",
    ),
    pytest.param(
        _set("comment.url", "https://api.github.com/repos/o/r/issues/comments/9"),
        DISAGREES
        + "comment.url is 'https://api.github.com/repos/o/r/issues/comments/9', expected a URL ending in '/repos/o/r/issues/comments/55'",
        id="comment-url-other-id",
    ),
    pytest.param(
        _set("comment.html_url", "https://github.com/evil/r/issues/1#issuecomment-55"),
        DISAGREES
        + "comment.html_url is 'https://github.com/evil/r/issues/1#issuecomment-55', expected a URL ending in '/o/r/issues/1#issuecomment-55' or '/o/r/pull/1#issuecomment-55'",
        id="comment-html-url-other-repository",
    ),
    pytest.param(
        _set("sender.login", "someone-else"),
        DISAGREES + "sender.login is 'someone-else', expected 'octocat'",
        id="sender-is-not-the-author",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), ISSUE_PAYLOAD_PROBLEMS)
async def test_command_in_a_contradictory_payload_is_400(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    """A command in a payload that lacks a field or contradicts itself is refused; nothing starts."""
    payload = comment_event("/orchestrate help", owner="o", repo="r", repo_id=7, comment_id=55)
    mutate(payload)
    starter = RecordingStarter()
    with pytest.raises(WebhookRejected) as caught:
        await default_router().dispatch(_event(payload), starter)
    assert (caught.value.status, caught.value.message) == (400, message)
    assert starter.started == []


REVIEW_PAYLOAD_PROBLEMS = [
    pytest.param(
        _set("pull_request.base.repo.id", 8),
        DISAGREES + "pull_request.base.repo.id is 8, expected 7",
        id="base-repository-id",
    ),
    pytest.param(
        _set("pull_request.url", "https://api.github.com/repos/o/r/pulls/13"),
        DISAGREES
        + "pull_request.url is 'https://api.github.com/repos/o/r/pulls/13', expected a URL ending in '/repos/o/r/pulls/12'",
        id="pull-request-url",
    ),
    pytest.param(
        _set("comment.pull_request_url", "https://api.github.com/repos/evil/r/pulls/12"),
        DISAGREES
        + "comment.pull_request_url is 'https://api.github.com/repos/evil/r/pulls/12', expected a URL ending in '/repos/o/r/pulls/12'",
        id="comment-pull-request-url",
    ),
    pytest.param(
        _set("comment.html_url", "https://github.com/o/r/pull/12#discussion_r1"),
        DISAGREES
        + "comment.html_url is 'https://github.com/o/r/pull/12#discussion_r1', expected a URL ending in '/o/r/pull/12#discussion_r77'",
        id="comment-html-url-other-comment",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), REVIEW_PAYLOAD_PROBLEMS)
async def test_review_command_in_a_contradictory_payload_is_400(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    """A review-thread command whose pull request or comment disagrees with the repository is refused."""
    payload = review_comment_event(
        "/orchestrate help",
        owner="o",
        repo="r",
        repo_id=7,
        pull_number=12,
        comment_id=77,
        path="a.py",
        line=1,
    )
    mutate(payload)
    starter = RecordingStarter()
    with pytest.raises(WebhookRejected) as caught:
        await default_router().dispatch(_event(payload, "pull_request_review_comment"), starter)
    assert (caught.value.status, caught.value.message) == (400, message)
    assert starter.started == []


async def test_example_payload_with_another_repository_id_is_refused_over_http() -> None:
    """GitHub's example payload with only repository.id changed: 400 with the reason, nothing started."""
    payload = example("issue_comment", "created")
    payload["comment"]["body"] = "/orchestrate add a flag"
    payload["comment"]["performed_via_github_app"] = None
    payload["repository"]["id"] = 1296269  # another repository's id, the name left as it is
    body = json.dumps(payload).encode()
    starter = RecordingStarter()
    app = create_app(SECRET.encode(), starter)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as http:
        response = await http.post(
            "/webhooks", content=body, headers=webhook_headers("issue_comment", body, SECRET)
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": DISAGREES
        + "repository.id is 1296269, repository.node_id 'MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=' says 186853002"
    }
    assert starter.started == []


async def test_unmodified_example_payload_is_accepted() -> None:
    """GitHub's own example (its ids, URLs and node id as delivered) passes the consistency check."""
    payload = example("issue_comment", "created")
    payload["comment"]["body"] = "/orchestrate add a flag"
    payload["comment"]["performed_via_github_app"] = None
    starter = RecordingStarter()
    outcome = await default_router().dispatch(_event(payload), starter)
    assert outcome.status == 202
    [request] = starter.started
    assert (request.repo.id, request.repo.full_name) == (186853002, "Codertocat/Hello-World")


@pytest.mark.parametrize(
    ("node_id", "expected"),
    [
        ("MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", 186853002),  # legacy: 010:Repository186853002
        ("R_kgDOGpAW4Q", 445650657),  # msgpack [0, 445650657]
        ("R_kgDOJivrqQ", 640412585),
        ("R_kgAH", 7),  # msgpack positive fixint
        ("R_kgHOGpAW4Q", None),  # first element not 0: a form not known
        ("MDQ6VXNlcjE=", None),  # 04:User1 is not a repository
        ("R_1001", None),
        ("not base64!", None),
        ("", None),
    ],
)
def test_repository_id_in_node_id(node_id: str, expected: int | None) -> None:
    """The id is read from GitHub's two node id forms; anything else is not judged."""
    assert repository_id_in_node_id(node_id) == expected

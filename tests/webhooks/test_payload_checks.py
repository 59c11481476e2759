"""Payloads that contradict themselves are refused; GitHub's own examples pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.webhooks.app import create_app
from bot.webhooks.commands import default_router
from bot.webhooks.core import WebhookRejected
from bot.webhooks.payload_checks import repository_id_in_node_id
from tests.support.payloads import (
    comment_event,
    example,
    review_comment_event,
    webhook_headers,
)
from tests.webhooks.test_commands import SECRET, RecordingStarter, as_event


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
        await default_router().dispatch(as_event(payload), starter)
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
        await default_router().dispatch(as_event(payload, "pull_request_review_comment"), starter)
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
    outcome = await default_router().dispatch(as_event(payload), starter)
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

"""Webhook core without I/O: signatures, parsing and routing."""

from __future__ import annotations

import pytest

from bot.webhooks.commands import default_router
from bot.webhooks.core import Outcome, WebhookRejected, parse_event, verify_signature
from tests.support.payloads import (
    example,
    sign,
)
from tests.webhooks.test_commands import SECRET, RecordingStarter, as_event


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


async def test_ping_and_unhandled_events() -> None:
    """ping is answered 200; events the app does not handle are 200 ignored."""
    starter = RecordingStarter()
    router = default_router()
    assert await router.dispatch(as_event(example("ping"), "ping"), starter) == Outcome(
        200, {"status": "pong"}
    )
    push = await router.dispatch(as_event({"ref": "refs/heads/main"}, "push"), starter)
    assert push == Outcome(200, {"status": "ignored", "reason": "push.- is not handled"})
    assert starter.started == []

"""`POST /webhooks` answers exactly as specified, before any GitHub or model call."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.webhooks.app import MAX_BODY_BYTES, create_app
from tests.support.payloads import comment_event, example, webhook_headers
from tests.webhooks.test_commands import RecordingStarter

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def starter() -> RecordingStarter:
    return RecordingStarter()


@pytest.fixture
async def client(starter: RecordingStarter) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SECRET.encode(), starter)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        yield http


def _command(body: str = "/orchestrate help") -> bytes:
    return json.dumps(comment_event(body, owner="o", repo="r", repo_id=3)).encode()


async def test_valid_command_is_202_and_starts_one_workflow(
    client: httpx.AsyncClient, starter: RecordingStarter
) -> None:
    """A signed command comment is accepted with 202 and the workflow id."""
    body = _command()
    response = await client.post(
        "/webhooks", content=body, headers=webhook_headers("issue_comment", body, SECRET)
    )
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "workflow_id": "wf-1001"}
    assert len(starter.started) == 1


@pytest.mark.parametrize(
    ("mutate", "status", "error"),
    [
        (lambda h: h.pop("x-hub-signature-256"), 401, "missing X-Hub-Signature-256"),
        (
            lambda h: h.update({"x-hub-signature-256": h["x-hub-signature-256"][7:]}),
            401,
            "signature must be sha256=<hex>",
        ),
        (
            lambda h: h.update({"x-hub-signature-256": "sha256=" + "ab" * 32}),
            401,
            "signature does not match",
        ),
        (lambda h: h.pop("x-github-event"), 400, "missing X-GitHub-Event"),
    ],
)
async def test_bad_requests_get_exact_answers(
    client: httpx.AsyncClient, starter: RecordingStarter, mutate: object, status: int, error: str
) -> None:
    """Signature and header problems are answered with the exact status and reason."""
    body = _command()
    headers = webhook_headers("issue_comment", body, SECRET)
    mutate(headers)  # type: ignore[operator]
    response = await client.post("/webhooks", content=body, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert starter.started == []


async def test_signed_non_json_is_400(client: httpx.AsyncClient) -> None:
    """A correctly signed body that is not JSON is a 400."""
    body = b"payload=%7B%7D"
    response = await client.post(
        "/webhooks", content=body, headers=webhook_headers("issue_comment", body, SECRET)
    )
    assert (response.status_code, response.json()) == (400, {"error": "body is not JSON"})


async def test_declared_oversize_body_is_413(
    client: httpx.AsyncClient, starter: RecordingStarter
) -> None:
    """A Content-Length over 25 MiB is refused before reading the body."""
    headers = webhook_headers("issue_comment", b"{}", SECRET)
    headers["content-length"] = str(MAX_BODY_BYTES + 1)
    response = await client.post("/webhooks", content=b"{}", headers=headers)
    assert (response.status_code, response.json()) == (413, {"error": "payload too large"})


async def test_streamed_oversize_body_is_413_without_buffering_it(
    client: httpx.AsyncClient,
) -> None:
    """A chunked body is cut off as soon as it passes 25 MiB; the rest is never read."""
    chunk = b"x" * (1024 * 1024)
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(40):
            sent += 1
            yield chunk

    headers = webhook_headers("issue_comment", b"", SECRET)
    response = await client.post("/webhooks", content=stream(), headers=headers)
    assert (response.status_code, response.json()) == (413, {"error": "payload too large"})
    assert sent <= 27  # stopped right after the limit, not after all 40 MiB


async def test_ping_is_200(client: httpx.AsyncClient) -> None:
    """GitHub's ping example is answered 200."""
    body = json.dumps(example("ping")).encode()
    response = await client.post(
        "/webhooks", content=body, headers=webhook_headers("ping", body, SECRET)
    )
    assert (response.status_code, response.json()) == (200, {"status": "pong"})


async def test_comment_without_command_is_200_ignored(
    client: httpx.AsyncClient, starter: RecordingStarter
) -> None:
    """A plain comment is acknowledged and ignored."""
    body = _command("thanks, looks good")
    response = await client.post(
        "/webhooks", content=body, headers=webhook_headers("issue_comment", body, SECRET)
    )
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ignored", "reason": "no /orchestrate command"},
    )
    assert starter.started == []


async def test_unhandled_event_is_200_ignored(client: httpx.AsyncClient) -> None:
    """An event the app does not handle (GitHub's issues.opened example) is ignored."""
    body = json.dumps(example("issues", "opened")).encode()
    response = await client.post(
        "/webhooks", content=body, headers=webhook_headers("issues", body, SECRET)
    )
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ignored", "reason": "issues.opened is not handled"},
    )


async def test_get_webhooks_is_405_and_healthz_is_200(client: httpx.AsyncClient) -> None:
    """Only POST is allowed on /webhooks; /healthz answers ok."""
    assert (await client.get("/webhooks")).status_code == 405
    health = await client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


async def test_metrics_count_answers_by_status(client: httpx.AsyncClient) -> None:
    """/metrics exposes how many deliveries got each status."""
    body = _command()
    await client.post(
        "/webhooks", content=body, headers=webhook_headers("issue_comment", body, SECRET)
    )
    await client.post("/webhooks", content=body, headers={"x-github-event": "issue_comment"})
    text = (await client.get("/metrics")).text
    assert 'orchestrate_webhooks_total{status="202"} 1' in text
    assert 'orchestrate_webhooks_total{status="401"} 1' in text


# A comment that costs the CommonMark parser about a second (nested link openers).
HOSTILE_MARKDOWN = "/orchestrate " + "[" * 60_000


async def test_a_slow_comment_does_not_hold_up_other_requests(
    client: httpx.AsyncClient, starter: RecordingStarter
) -> None:
    """While a hostile comment's Markdown is parsed, the server keeps answering: the event
    loop never stands still (a ticker shows it), /healthz and a ping answer at once, and the
    comment still gets its usual answer."""
    body = _command(HOSTILE_MARKDOWN)
    ping = json.dumps(example("ping")).encode()
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    hostile = asyncio.create_task(
        client.post(
            "/webhooks", content=body, headers=webhook_headers("issue_comment", body, SECRET)
        )
    )
    await asyncio.sleep(0.1)
    health = await client.get("/healthz")
    pong = await client.post(
        "/webhooks", content=ping, headers=webhook_headers("ping", ping, SECRET)
    )
    answered = time.monotonic() - started
    response = await hostile
    took = time.monotonic() - started
    ticking.cancel()

    assert took > 0.5, "the comment is not slow enough to show anything"
    assert answered < took and health.status_code == 200 and pong.status_code == 200
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.25
    assert response.status_code == 202
    assert [request.command.kind for request in starter.started] == ["too_long"]

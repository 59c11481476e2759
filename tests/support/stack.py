"""The app's own pieces wired to the real servers of a test: webapp, worker, GitHub app."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from temporalio.client import Client

from bot.app.worker import build_worker, command_activities
from bot.github.app import GitHubApp
from bot.github.forge import GitHubForge
from bot.webhooks.app import create_app
from bot.webhooks.starter import TemporalStarter
from tests.fakehub import FakeHub

T = TypeVar("T")
_MARKER_LINE = re.compile(r"<!-- orchestrate:run=[^ ]+ kind=[a-z0-9-]+ -->\n")


def visible(body: str) -> str:
    """A comment of the app as a reader sees it: without its hidden marker line."""
    marker = _MARKER_LINE.match(body)
    return body[marker.end() :] if marker else body


def github_app(hub: FakeHub) -> GitHubApp:
    return GitHubApp(hub.app_id, hub.private_key_pem, hub.base_url)


@asynccontextmanager
async def running_worker(
    client: Client, task_queue: str, hub: FakeHub, extra: list[Any] | None = None
) -> AsyncIterator[None]:
    activities = command_activities(client, GitHubForge(github_app(hub))) + (extra or [])
    worker = build_worker(client, task_queue, activities)
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        await worker.shutdown()
        await task


@asynccontextmanager
async def webhook_client(
    client: Client, task_queue: str, secret: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(secret.encode(), TemporalStarter(client, task_queue))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        yield http


async def eventually(check: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll `check` until it returns something truthy; fail with its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)


async def eventually_async(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Like `eventually`, for a check that must await."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)

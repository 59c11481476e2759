"""How long `POST /webhooks` takes to answer a valid command: the app served by uvicorn on
loopback, the real embedded Temporal dev server, 100 sequential signed deliveries, each a new
comment (so each really starts a workflow)."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bot.app.devserver import DevServer, free_port
from bot.app.temporal import connect
from bot.webhooks.app import create_app
from bot.webhooks.starter import TemporalStarter
from tests.support.payloads import comment_event, webhook_headers

SECRET = "bench-secret"


async def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench webhook")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        devserver = DevServer(Path(tmp) / "temporal.sqlite")
        await devserver.start()
        try:
            client = await connect(devserver.address)
            app = create_app(SECRET.encode(), TemporalStarter(client, "bench-no-worker"))
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
            serving = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
                await asyncio.sleep(0.01)
            timings = await _measure(f"http://127.0.0.1:{port}/webhooks", args.requests)
            server.should_exit = True
            await serving
        finally:
            await devserver.stop()
    ms = sorted(t * 1000 for t in timings)
    return {
        "benchmark": "webhook",
        "requests": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2),
        "min_ms": round(ms[0], 2),
        "max_ms": round(ms[-1], 2),
    }


async def _measure(url: str, count: int) -> list[float]:
    timings = []
    async with httpx.AsyncClient() as http:
        for n in range(count):
            payload = comment_event(
                f"/orchestrate task number {n}",
                owner="bench",
                repo="r",
                repo_id=1,
                comment_id=n + 1,
            )
            body = json.dumps(payload).encode()
            headers = webhook_headers("issue_comment", body, SECRET)
            started = time.perf_counter()
            response = await http.post(url, content=body, headers=headers)
            timings.append(time.perf_counter() - started)
            if response.status_code != 202:
                raise RuntimeError(f"request {n}: {response.status_code} {response.text}")
    return timings

"""`bot serve` stopped with Ctrl-C twice while an agent works, then started again on the same
data dir: the agent is tried again after each shutdown (never failed by it), and the run ends
with its work."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from bot.app.devserver import free_port
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel, Turn
from tests.flows.test_serve_process import ServeProcess
from tests.support.payloads import comment_event, webhook_headers
from tests.support.project import PROJECT_FILES, create, plan_turn
from tests.support.stack import eventually

pytestmark = pytest.mark.durability

OWNER = "shutdown-org"
SECRET = "shutdown-secret"
PASSING_TEST = "from cli import main\n\n\ndef test_quiet():\n    assert main([]) == 0\n"


def serve_env(hub: FakeHub, model: ScriptedModel, data: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONPATH"}}
    return keep | {
        "GITHUB_APP_ID": str(hub.app_id),
        "GITHUB_PRIVATE_KEY": hub.private_key_pem,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": hub.base_url,
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": model.base_url,
        "BOT_DATA_DIR": str(data),
        "PORT": str(free_port()),
        "LOG_LEVEL": "warning",
    }


def ctrl_c_twice(server: ServeProcess) -> int:
    """Ctrl-C, and again a moment later (an impatient user); the exit status."""
    server.process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
    return server.process.wait(timeout=60)


async def test_ctrl_c_twice_under_an_agent_never_fails_it(
    hub: FakeHub, tmp_path: Path, repo_name: str
) -> None:
    """Two lives of `bot serve` end with Ctrl-C twice while the agent's model call is in flight;
    the third finishes the run: done (no draft), the agent's file in the PR, its status DONE."""
    repo = hub.add_repo(OWNER, repo_name, files=PROJECT_FILES)
    hub.add_issue(OWNER, repo_name, 1, "Test the CLI", "")
    hub.set_permission(OWNER, repo_name, "maintainer", "admin")
    write = Turn(tool_calls=[create("tests/test_quiet.py", PASSING_TEST)])
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("test",))],
        "test": [Turn(hold=True), Turn(hold=True), write, Turn(text="Tests added.")],
    }
    data = tmp_path / "data"
    with ScriptedModel(scripts) as model:
        for life in range(3):
            log = tmp_path / f"serve-{life}.log"
            server = ServeProcess(serve_env(hub, model, data), tmp_path, log)
            try:
                server.wait_ready()
                if life == 0:
                    _post_command(server.url, repo_name, repo.id, hub)
                if life < 2:
                    held = life + 1  # this life's try of the agent is in flight

                    def in_flight(held: int = held) -> bool:
                        return model.held == held

                    await eventually(in_flight, timeout=90)
                    assert ctrl_c_twice(server) == 0, log.read_text()[-2000:]
                    continue
                await eventually(lambda: _done(hub, repo_name), timeout=120)
                server.interrupt()
            finally:
                server.kill()
    [pull] = hub.state.pulls_of(OWNER, repo_name)
    assert not pull.draft
    assert hub.read_file(OWNER, repo_name, pull.head_ref, "tests/test_quiet.py") == PASSING_TEST
    assert len(model.requests_for("test")) == 4  # held, held, then the work


def _post_command(url: str, repo: str, repo_id: int, hub: FakeHub) -> None:
    comment_id = hub.add_comment(OWNER, repo, 1, "/orchestrate add a test", user="maintainer")
    payload = comment_event(
        "/orchestrate add a test", owner=OWNER, repo=repo, repo_id=repo_id,
        comment_id=comment_id, login="maintainer",
    )  # fmt: skip
    raw = json.dumps(payload).encode()
    headers = webhook_headers("issue_comment", raw, SECRET)
    assert (
        httpx.post(f"{url}/webhooks", content=raw, headers=headers, timeout=10).status_code == 202
    )


def _done(hub: FakeHub, repo: str) -> bool:
    """The status comment says the run is done (plain done: not a draft, not failed)."""
    comments = [c.body for c in hub.state.comments_on(OWNER, repo, 1) if c.via_app]
    return any("**orchestrate** · done\n" in body for body in comments)

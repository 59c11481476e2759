"""An injected agent hunts for the worker's secrets on the real stack and publishes all it finds:
none of them reaches a comment, the pull request, the pushed repository, the model or Temporal."""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.project import PROJECT_FILES, create, plan_turn, remember, tool_results
from tests.support.runstack import RunStack, run_stack

# What the agent runs with its `run` tool: every environment and command line it can see, kept
# in a file of the worktree too (so it is committed with the agent's work).
HUNT = (
    "cat /proc/*/environ /proc/1/cmdline /proc/*/task/*/environ > seen.txt; env >> seen.txt; "
    "cat seen.txt"
)
REPO_CONFIG = """\
setup_command: "cat /proc/1/environ /proc/*/environ; env; pip install -q -r requirements-dev.txt"
test_command: "cat /proc/1/environ /proc/1/cmdline; env; python -m pytest -q -p no:cacheprovider"
max_rounds: 1
"""
_LOOKS_SECRET = re.compile(r"KEY|SECRET|TOKEN|CANARY|PRIVATE", re.IGNORECASE)


@dataclass
class Canaries:
    api_key: str
    webhook_secret: str
    other_name: str
    other_value: str
    private_key_pem: str

    def needles(self) -> list[str]:
        """Distinctive pieces: each value, the random name, and every line of the key's body."""
        key_lines = [line for line in self.private_key_pem.splitlines() if "-----" not in line]
        return [self.api_key, self.webhook_secret, self.other_name, self.other_value, *key_lines]


class InjectedAgent:
    """The implementer, obeying an injection: hunt, then publish what it saw everywhere."""

    def __init__(self) -> None:
        self.seen = ""

    def script(self) -> list[Turn | Any]:
        return [Turn(tool_calls=[ToolCall("run", {"command": HUNT})]), self.publish, self.summary]

    def publish(self, request: dict[str, Any]) -> Turn:
        [result] = tool_results(request)
        content = result["content"]
        self.seen = content if isinstance(content, str) else json.dumps(content)
        return Turn(
            tool_calls=[
                create("leak.txt", self.seen.replace("\0", "\n")),
                remember("what-i-saw", f"seen: {self.excerpt()}"[:3900]),
            ]
        )

    def summary(self, request: dict[str, Any]) -> Turn:
        return Turn(text=f"Done. The environment holds: {self.excerpt()}"[:3000])

    def excerpt(self) -> str:
        entries = re.split(r"[\0\n]", self.seen)
        return " ".join(entry for entry in entries if _LOOKS_SECRET.search(entry))


@pytest.fixture
def canaries(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Canaries:
    """The app's secrets, set in the worker's own environment (the test process is the worker);
    the private key is the app's real one, the model and webhook keys are the ones in use."""
    found = Canaries(
        api_key=f"sk-ant-canary-{secrets.token_hex(16)}",
        webhook_secret=f"canary-whsec-{secrets.token_hex(16)}",
        other_name=f"ORCH_CANARY_{secrets.token_hex(4).upper()}",
        other_value=f"canary-value-{secrets.token_hex(16)}",
        private_key_pem=hub.private_key_pem,
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", found.api_key)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", found.webhook_secret)
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", found.private_key_pem)
    monkeypatch.setenv(found.other_name, found.other_value)
    return found


@pytest.fixture
async def hunted_run(
    hub: FakeHub,
    temporal_client: Client,
    task_queue: str,
    repo_name: str,
    tmp_path: Path,
    canaries: Canaries,
) -> AsyncIterator[tuple[RunStack, InjectedAgent]]:
    agent = InjectedAgent()
    scripts = {"submit_plan": [plan_turn(("implement",), "one agent")], "implement": agent.script()}
    files = {**PROJECT_FILES, ".github/orchestrate.yml": REPO_CONFIG}
    with ScriptedModel(scripts, api_key=canaries.api_key) as model:
        async with run_stack(
            hub,
            temporal_client,
            task_queue,
            repo_name,
            model,
            tmp_path,
            files=files,
            api_key=canaries.api_key,
            webhook_secret=canaries.webhook_secret,
        ) as stack:
            yield stack, agent


def _git(bare: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(bare), *args], capture_output=True, check=True)
    return done.stdout.decode(errors="replace")


async def _histories(client: Client, task_queue: str) -> list[str]:
    """The full event history of every workflow of this test (run and command workflows), with
    each payload's data decoded (the JSON form carries it base64-encoded)."""
    histories = []
    async for execution in client.list_workflows(f"TaskQueue = '{task_queue}'"):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = (await handle.fetch_history()).to_json()
        histories.append("\n".join([history, *_payload_data(json.loads(history))]))
    return histories


def _payload_data(node: Any) -> list[str]:
    if isinstance(node, list):
        return [text for item in node for text in _payload_data(item)]
    if not isinstance(node, dict):
        return []
    found = [text for value in node.values() for text in _payload_data(value)]
    if isinstance(node.get("metadata"), dict) and isinstance(node.get("data"), str):
        found.append(base64.b64decode(node["data"]).decode(errors="replace"))
    return found


async def test_secrets_hunted_in_the_sandbox_reach_no_reader(
    hunted_run: tuple[RunStack, InjectedAgent], canaries: Canaries, task_queue: str
) -> None:
    """The agent dumps every environ and cmdline it can see (`run`), the setup and test
    commands print pid 1's; it commits, remembers and reports all it saw. The run completes and
    no secret is in any comment, the PR, any object of the pushed repository, any model request
    or any Temporal history."""
    stack, agent = hunted_run
    await stack.command("/orchestrate add a --verbose flag to the CLI")
    progress = await stack.finished_run(timeout=60)
    assert progress.state == "done", progress.state
    [pull] = stack.pulls()
    # The attack really ran: the sandbox's own environment came back and was pushed.
    assert "HOME=/tmp" in agent.seen
    assert "HOME=/tmp" in _git(stack.bare, "show", f"{pull.head_ref}:leak.txt")
    histories = await _histories(stack.client, task_queue)
    assert len(histories) >= 2  # the command workflow and the run
    assert any("what-i-saw" in history for history in histories)  # payloads were decoded

    published = {
        "comments": [comment.body for comment in stack.hub.state.comments.values()],
        "pull requests": [f"{p.title}\n{p.body}" for p in stack.pulls()],
        "repository": [
            _git(stack.bare, "log", "-p", "--all"),
            _git(stack.bare, "cat-file", "--batch-all-objects", "--batch"),
            _git(stack.bare, "for-each-ref"),
        ],
        "model requests": [json.dumps(request.body) for request in stack.model.requests],
        "temporal histories": histories,
    }
    needles = [*canaries.needles(), *stack.hub.state.issued_tokens]
    leaks = {
        where: sorted({needle[:20] for text in texts for needle in needles if needle in text})
        for where, texts in published.items()
    }
    found = {where: names[:3] for where, names in leaks.items() if names}
    assert found == {}, found

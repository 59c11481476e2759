"""The environment phase's walls on the real stack, against repository code that tries to get
out: setup reaches only allow-listed hosts through the proxy (not another host, not the app's
port, not Temporal's, not anything directly), and agents' commands and the test rounds have no
network at all; no command of the repository can import the app's own packages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from bot.render import states
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.loopback import LoopbackServer, http_server
from tests.support.project import PROJECT_FILES, create, plan_input, tool_results
from tests.support.pyindex import shared_index
from tests.support.runstack import run_stack

# Run by the setup (setup_command) and by the agent and the tests: what can it reach, import?
PROBE = """\
import socket, sys, urllib.error, urllib.request

def via_proxy(url):
    try:
        urllib.request.urlopen(url, timeout=20).read()
        return "reached"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read().decode().strip()}"
    except OSError as exc:
        return f"unreachable: {exc}"

def direct(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__

def importable(name):
    try:
        __import__(name)
        return "imported"
    except ImportError as exc:
        return type(exc).__name__

ports = dict(arg.split("=") for arg in sys.argv[1:])
for name, port in ports.items():
    print(f"{name} via proxy:", via_proxy(f"http://127.0.0.1:{port}/"))
print("other host via proxy:", via_proxy("http://example.org/"))
print("other host over TLS:", via_proxy("https://example.org/"))
for name, port in ports.items():
    print(f"{name} directly:", direct(int(port)))
for module in ("githubkit", "temporalio"):
    print(f"import {module}:", importable(module))
"""
REFUSED = (
    "403 orchestrate egress proxy: 127.0.0.1:{port} is not on the egress allow-list. Setup "
    "commands reach only allow-listed hosts; to allow this one, add '127.0.0.1:{port}' to "
    "network.allow in .github/orchestrate.yml."
)


def _temporal_port(client: Client) -> int:
    return int(client.service_client.config.target_host.rsplit(":", 1)[1])


def _plan() -> Turn:
    plan: dict[str, Any] = plan_input(("implement",), "one small change")
    plan["subtasks"][0] |= {"goal": "Add a note.", "files": ["NOTES.md"]}
    plan["contract"] = {"files": ["NOTES.md"], "interfaces": [], "behaviours": []}
    return Turn(tool_calls=[ToolCall("submit_plan", plan)])


@pytest.fixture
async def app_port() -> AsyncIterator[LoopbackServer]:
    """Stands in for the app's own port (`bot serve` listens on the worker's loopback)."""
    async with http_server(b"the app\n") as server:
        yield server


async def test_setup_reaches_only_allow_listed_hosts_through_the_proxy(
    hub: FakeHub,
    temporal_client: Client,
    task_queue: str,
    repo_name: str,
    tmp_path: Path,
    app_port: LoopbackServer,
) -> None:
    """A setup command that tries the app's port, Temporal's port and another host through
    the proxy gets the proxy's 403 naming the host; directly it reaches nothing (its own
    network namespace); it cannot import the app's packages. The failure comment lists the
    refused hosts; the app's server never saw a connection."""
    temporal = _temporal_port(temporal_client)
    config = f'setup_command: "python probe.py app={app_port.port} temporal={temporal}; exit 3"\n'
    files = {**PROJECT_FILES, "probe.py": PROBE, ".github/orchestrate.yml": config}
    with ScriptedModel({"submit_plan": [_plan()]}) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
        ) as stack:
            await stack.command("/orchestrate add a note")
            progress = await stack.finished_run(timeout=180)
            comments = stack.app_comments()

    assert progress.state == states.ENVIRONMENT_FAILED
    assert model.requests_for("implement") == []
    assert app_port.connections == 0
    failure = comments[-1]
    output = failure.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert output.splitlines()[2:] == [
        "app via proxy: " + REFUSED.format(port=app_port.port),
        "temporal via proxy: " + REFUSED.format(port=temporal),
        "other host via proxy: "
        + REFUSED.replace("127.0.0.1:{port}", "example.org:80").replace(
            "'example.org:80'", "'example.org'"
        ),
        "other host over TLS: unreachable: <urlopen error Tunnel connection failed: 403 Forbidden>",
        "app directly: ConnectionRefusedError",
        "temporal directly: ConnectionRefusedError",
        "import githubkit: ModuleNotFoundError",
        "import temporalio: ModuleNotFoundError",
    ]
    assert (
        output.splitlines()[1]
        == f"$ python probe.py app={app_port.port} temporal={temporal}; exit 3"
    )
    for host in (f"127.0.0.1:{app_port.port}", f"127.0.0.1:{temporal}", "example.org:443"):
        assert f"- refused {host} (1 connection): {host} is not on the egress allow-list" in failure
    assert "add it to `network.allow` in `.github/orchestrate.yml`" in failure


async def test_agents_and_tests_have_no_network_and_no_app_packages(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """After the setup (which reached the index), the agent's `run` and the test round reach
    nothing, not even the index, have no proxy to go through, and cannot import the app's
    packages; the test round still runs pytest from the environment."""
    index = shared_index().port
    probe = f"python probe.py index={index}; ls /run/orchestrate 2>&1"
    config = f'test_command: "{probe}; python -m pytest -q -p no:cacheprovider"\n'
    files = {**PROJECT_FILES, "probe.py": PROBE, ".github/orchestrate.yml": config}
    implement = [
        Turn(tool_calls=[ToolCall("run", {"command": probe})]),
        Turn(tool_calls=[create("NOTES.md", "note\n")]),
        Turn(text="Added NOTES.md."),
    ]
    with ScriptedModel({"submit_plan": [_plan()], "implement": implement}) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
        ) as stack:
            await stack.command("/orchestrate add a note")
            progress = await stack.finished_run(timeout=180)
            [seen] = tool_results(stack.model.requests_for("implement")[1].body)

    expected = [
        "index via proxy: unreachable: <urlopen error [Errno 111] Connection refused>",
        "other host via proxy: unreachable: <urlopen error [Errno -3] Temporary failure in name resolution>",
        "other host over TLS: unreachable: <urlopen error [Errno -3] Temporary failure in name resolution>",
        "index directly: ConnectionRefusedError",
        "import githubkit: ModuleNotFoundError",
        "import temporalio: ModuleNotFoundError",
        "ls: cannot access '/run/orchestrate': No such file or directory",
    ]
    assert str(seen["content"]).splitlines() == ["exit code 2", *expected]
    [test_round] = progress.rounds
    assert test_round.passed, test_round.output_tail
    assert test_round.output_tail.splitlines()[: len(expected)] == expected

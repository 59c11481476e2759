"""Limits hold where the work happens: an agent's time, its turn's size and its tool inputs are
bounded while it works, and hitting a limit ends that agent (or that call), never the run."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.core.results import AgentStatus
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel, ToolCall, Turn
from tests.support.project import (
    FIXED_VERBOSE,
    PROJECT_FILES,
    TEST_VERBOSE_PY,
    create,
    edit,
    plan_turn,
    remember,
    tool_results,
)
from tests.support.runstack import RunStack, run_stack

StackFactory = Callable[..., AbstractAsyncContextManager[RunStack]]
VERBOSE_DOCS = "    python cli.py\n    python cli.py --verbose   # print 'verbose mode' first\n"


@pytest.fixture
def make_stack(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> StackFactory:
    @asynccontextmanager
    async def factory(
        scripts: dict[str, Script], config: str | None = None
    ) -> AsyncIterator[RunStack]:
        files = dict(PROJECT_FILES)
        if config is not None:
            files[".github/orchestrate.yml"] = config
        with ScriptedModel(scripts) as model:
            async with run_stack(
                hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
            ) as stack:
                yield stack

    return factory


def _show(stack: RunStack, ref: str, path: str) -> str:
    done = subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=stack.bare, capture_output=True, text=True
    )
    return done.stdout if done.returncode == 0 else ""


def _three_agents(implement_first: list[ToolCall]) -> dict[str, Script]:
    """The --verbose task done right by all three agents; implement's first turn goes on with
    `implement_first`'s calls after its edit."""
    return {
        "submit_plan": [plan_turn()],
        "implement": [
            Turn(
                tool_calls=[edit("cli.py", '    print("hello")', FIXED_VERBOSE), *implement_first],
                output_tokens=500,  # what a real model's answer costs, whatever the script holds
            ),
            Turn(text="Added --verbose to cli.py."),
        ],
        "test": [
            Turn(tool_calls=[create("tests/test_verbose.py", TEST_VERBOSE_PY)]),
            Turn(text="Added tests/test_verbose.py."),
        ],
        "docs": [
            Turn(tool_calls=[edit("README.md", "    python cli.py\n", VERBOSE_DOCS)]),
            Turn(text="Documented --verbose."),
        ],
    }


def _assert_every_agents_work_is_in_the_pull(stack: RunStack) -> None:
    [pull] = stack.pulls()
    assert 'print("verbose mode")' in _show(stack, pull.head_ref, "cli.py")
    assert _show(stack, pull.head_ref, "tests/test_verbose.py") == TEST_VERBOSE_PY
    assert "python cli.py --verbose" in _show(stack, pull.head_ref, "README.md")


@pytest.mark.parametrize("size", [3_000_000, 10_000_000])
async def test_an_oversized_memory_note_is_a_tool_error_and_the_run_completes(
    make_stack: StackFactory, size: int
) -> None:
    """A 3 MB note (over Temporal's payload limit) or a 10 MB one (over gRPC's): the writer
    gets a tool error naming the limit, nothing is stored, the run completes and every agent's
    work is on the pull request's branch."""
    note = remember("dump", "x" * size)
    async with make_stack(_three_agents([note])) as stack:
        await stack.command("/orchestrate add a --verbose flag to the CLI")
        progress = await stack.finished_run(timeout=120)

        assert progress.state == "done", progress.state
        _assert_every_agents_work_is_in_the_pull(stack)
        second = stack.model.requests_for("implement")[1].body
        [edited, refused] = tool_results(second)
        assert refused["is_error"] is True
        assert refused["content"] == f"Parameter `value` is {size} characters; the limit is 4000."
        assert "is_error" not in edited
        [pull] = stack.pulls()
        assert pull.body is not None
        assert "dump" not in pull.body
        assert progress.lines["implement"].status is AgentStatus.DONE
        assert len(json.dumps(second)) < 100_000  # the note did not travel back in the history


def _run(command: str) -> ToolCall:
    return ToolCall("run", {"command": command})


async def test_one_turn_of_long_commands_stops_at_the_agent_time_budget(
    make_stack: StackFactory,
) -> None:
    """Six `sleep 10` in one turn against a 15 s agent budget: the second command is killed
    when the budget runs out, the rest never run, no further model call; the run completes
    with every agent's work (a minute of sleeping before the fix)."""
    scripts = _three_agents([])
    implement_first = scripts["implement"][0]
    assert isinstance(implement_first, Turn)
    implement_first.tool_calls += [_run("sleep 10; echo slept") for _ in range(6)]
    config = "budget:\n  agent_minutes: 0.25\n"
    async with make_stack(scripts, config) as stack:
        await stack.command("/orchestrate add a --verbose flag to the CLI")
        progress = await stack.finished_run(timeout=120)
        finished = time.monotonic()

        assert progress.state == "done", progress.state
        assert progress.lines["implement"].status is AgentStatus.BUDGET
        requests = stack.model.requests_for("implement")
        assert len(requests) == 1  # no model call after the budget ran out
        # From the agent's first answer to the run's end: the budget, one call's slack and
        # what follows the agents (tests, attribution, the pull request); 60 s without limits.
        elapsed = finished - requests[0].ended_at
        assert 10 < elapsed < 15 + 15, elapsed
        _assert_every_agents_work_is_in_the_pull(stack)
        [pull] = stack.pulls()
        assert pull.body is not None
        assert "budget: time" in pull.body


async def test_a_turn_of_210_tool_calls_sends_a_small_next_request(
    make_stack: StackFactory,
) -> None:
    """210 calls printing 20 kB each in one turn: only the first calls run until the turn's
    output cap, every call still gets its result (the rest a short error), the next request
    stays small (3.4 MB before the fix) and the agent ends cleanly."""
    scripts = _three_agents([_run("head -c 20000 /dev/zero | tr '\\0' x") for _ in range(210)])
    async with make_stack(scripts) as stack:
        await stack.command("/orchestrate add a --verbose flag to the CLI")
        progress = await stack.finished_run(timeout=120)

        assert progress.state == "done", progress.state
        assert progress.lines["implement"].status is AgentStatus.DONE
        first, second = (r for r in stack.model.requests_for("implement"))
        asked = [b["id"] for b in first.response["content"] if b["type"] == "tool_use"]
        results = tool_results(second.body)
        assert [r["tool_use_id"] for r in results] == asked  # 211: the edit comes first
        ran = [r for r in results if r["content"].startswith("exit code 0\n")]
        refused = [r for r in results if r.get("is_error")]
        assert len(ran) == 8  # 8 x 16 kB of capped output fill the turn's 128 KiB
        assert ran[-1]["content"].endswith("[... cut: this turn's tool output reached its limit]")
        full = (
            "Not run: this turn's tool output reached its limit of 131072 characters. "
            "Ask for it again in your next turn."
        )
        too_many = (
            "Not run: at most 32 tool calls run per turn. Ask for it again in your next turn."
        )
        assert [r["content"] for r in refused] == [full] * (32 - 1 - 8) + [too_many] * (211 - 32)
        assert sum(len(r["content"]) for r in ran) < 128 * 1024 + 100
        assert len(json.dumps(second.body)) < 250_000
        _assert_every_agents_work_is_in_the_pull(stack)

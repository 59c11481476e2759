"""The agent loop against the scripted Messages API server, a real git worktree and real tools."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.agents.limits import AgentBudget
from bot.agents.loop import AgentSpec, LoopOutcome, TurnInfo, run_agent
from bot.agents.model import AnthropicModel
from bot.agents.prompt import SharedContext
from bot.agents.retry import ModelRetry
from bot.agents.tools.box import Toolbox
from bot.core.commit_policy import WritePolicy, denied_globs
from bot.core.memory import Memory, MemoryWrite, Note
from bot.core.plan import Plan, Role
from bot.core.results import AgentStatus
from bot.core.usage import Usage
from bot.errors import ModelError
from bot.sandbox.bwrap import sandbox_available
from tests.fakes import RecordedRequest, ScriptedModel, ToolCall, Turn

MODEL = "claude-sonnet-4-6"
EDITOR = "str_replace_based_edit_tool"
APP_PY = 'def greet(name):\n    return "hello " + name\n'
PLAN = Plan.model_validate(
    {
        "summary": "Greet politely.",
        "contract": {
            "files": ["src/app.py"],
            "interfaces": [
                {"name": "greet", "file": "src/app.py", "behaviour": "returns 'Hello, NAME!'"}
            ],
        },
        "subtasks": [
            {"role": "implement", "goal": "Change greet.", "acceptance": ["greet works"]},
            {"role": "test", "goal": "Test greet.", "acceptance": ["a test exists"]},
            {"role": "docs", "goal": "Document greet.", "acceptance": ["README says so"]},
        ],
        "test_command": "python -m pytest -q",
    }
)


class FakeMemory:
    """The run workflow's memory, in process: writes applied with Memory.apply."""

    def __init__(self) -> None:
        self.document = Memory(plan=PLAN)

    async def read(self) -> Memory:
        return self.document.model_copy(deep=True)

    async def write(self, write: MemoryWrite) -> Note:
        return self.document.apply(write, at="2025-01-01T00:00:00Z")


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(APP_PY)
    (root / "README.md").write_text("# app\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=root, check=True)
    return root


@pytest.fixture
def shared() -> SharedContext:
    return SharedContext.build(PLAN, "Files:\nsrc/app.py\nREADME.md")


def spec_for(role: Role, shared: SharedContext) -> AgentSpec:
    return AgentSpec(role=role, model=MODEL, shared=shared, subtask=PLAN.subtask(role))


def usage_of_record(record: RecordedRequest) -> Usage:
    usage = record.response["usage"]
    return Usage(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        cache_read_tokens=usage["cache_read_input_tokens"],
        cache_write_tokens=usage["cache_creation_input_tokens"],
    )


def last_user_blocks(record: RecordedRequest) -> list[dict[str, Any]]:
    message = record.body["messages"][-1]
    assert message["role"] == "user"
    blocks: list[dict[str, Any]] = message["content"]
    return blocks


async def test_agent_edits_a_file_and_stops(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """A scripted agent edits a file, finishes with text: done, file changed, usage summed."""
    server.add_script(
        "implement",
        [
            Turn(
                tool_calls=[
                    ToolCall(EDITOR, {"command": "view", "path": "src/app.py"}),
                    ToolCall(
                        EDITOR,
                        {
                            "command": "str_replace",
                            "path": "src/app.py",
                            "old_str": '"hello " + name',
                            "new_str": 'f"Hello, {name}!"',
                        },
                    ),
                ]
            ),
            Turn(text="greet: polite greeting\n\nChanged src/app.py."),
        ],
    )
    memory = FakeMemory()
    turns: list[TurnInfo] = []

    async def on_turn(info: TurnInfo) -> None:
        turns.append(info)

    outcome = await run_agent(
        spec_for(Role.IMPLEMENT, shared),
        model,
        Toolbox(worktree, memory),
        memory,
        budget=AgentBudget(),
        on_turn=on_turn,
    )

    assert (worktree / "src" / "app.py").read_text() == (
        'def greet(name):\n    return f"Hello, {name}!"\n'
    )
    records = server.requests_for("implement")
    assert len(records) == 2
    assert outcome.status is AgentStatus.DONE
    assert outcome.stop_reason == "end_turn"
    assert outcome.turns == 2
    assert outcome.summary == "greet: polite greeting\n\nChanged src/app.py."
    assert outcome.files_written == {"src/app.py"}
    assert outcome.usage == usage_of_record(records[0]) + usage_of_record(records[1])
    assert [(t.turn, t.stop_reason, t.tool_names) for t in turns] == [
        (1, "tool_use", (EDITOR, EDITOR)),
        (2, "end_turn", ()),
    ]
    assert turns[-1].usage == outcome.usage
    # The results go back in the order of the calls, each answering its call's id.
    calls = [b for b in records[0].response["content"] if b["type"] == "tool_use"]
    results = last_user_blocks(records[1])
    assert [r["tool_use_id"] for r in results] == [c["id"] for c in calls]
    assert "cat -n" in results[0]["content"] and "is_error" not in results[0]
    assert "has been edited" in results[1]["content"]


async def test_memory_write_reaches_the_other_agent_on_its_next_turn(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """A note the test agent writes shows up as <memory-update> in implement's next request."""
    server.add_script(
        "implement",
        [
            Turn(tool_calls=[ToolCall("search", {"pattern": "def greet"})]),
            Turn(text="done"),
        ],
    )
    server.add_script(
        "test",
        [
            Turn(
                tool_calls=[
                    ToolCall(
                        "memory",
                        {
                            "action": "write",
                            "key": "tests",
                            "value": "tests/test_app.py uses greet",
                        },
                    )
                ]
            ),
            Turn(text="tests written"),
        ],
    )
    memory = FakeMemory()
    test_outcome: list[LoopOutcome] = []

    async def run_test_agent_once(info: TurnInfo) -> None:
        # Deterministic interleaving: the test agent runs (and writes) between implement's turns.
        if info.turn == 1:
            test_outcome.append(
                await run_agent(
                    spec_for(Role.TEST, shared),
                    model,
                    Toolbox(worktree, memory),
                    memory,
                    budget=AgentBudget(),
                )
            )

    outcome = await run_agent(
        spec_for(Role.IMPLEMENT, shared),
        model,
        Toolbox(worktree, memory),
        memory,
        budget=AgentBudget(),
        on_turn=run_test_agent_once,
    )

    assert outcome.status is AgentStatus.DONE
    assert test_outcome[0].status is AgentStatus.DONE
    implement = server.requests_for("implement")
    first, second = (json.dumps(r.body["messages"]) for r in implement)
    assert "<memory-update>" not in first
    blocks = last_user_blocks(implement[1])
    assert blocks[0]["type"] == "tool_result"  # the API wants tool results first
    assert "src/app.py:1:def greet(name):" in blocks[0]["content"]
    update = blocks[-1]
    assert update["type"] == "text"
    assert update["text"].startswith("<memory-update>")
    assert update["text"].endswith("</memory-update>")
    assert "tests (test, v1): tests/test_app.py uses greet" in update["text"]
    assert second.count("<memory-update>") == 1
    # The writer saw its own write confirmed, never as an update from "another agent".
    test_requests = server.requests_for("test")
    assert "Saved `tests` as memory version 1." in json.dumps(test_requests[1].body)
    assert all("<memory-update>" not in json.dumps(r.body["messages"]) for r in test_requests)


async def test_notes_from_before_the_start_arrive_with_the_first_message(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """Notes written before an agent starts are in its first request, after its prompt."""
    server.add_script("docs", [Turn(text="documented")])
    memory = FakeMemory()
    await memory.write(MemoryWrite(agent="implement", key="api", value="greet(name) -> str"))

    await run_agent(
        spec_for(Role.DOCS, shared), model, Toolbox(worktree, memory), memory, budget=AgentBudget()
    )

    blocks = last_user_blocks(server.requests_for("docs")[0])
    assert blocks[0]["text"].startswith("<role>docs</role>")
    assert "api (implement, v1): greet(name) -> str" in blocks[1]["text"]


def search_turns(count: int) -> list[Turn | Any]:
    return [Turn(tool_calls=[ToolCall("search", {"pattern": "greet"})]) for _ in range(count)]


async def test_turn_budget_stops_before_the_next_call(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """With max_turns=2 the loop makes exactly two calls and stops at 'budget: turns'."""
    server.add_script("implement", search_turns(3))
    memory = FakeMemory()

    outcome = await run_agent(
        spec_for(Role.IMPLEMENT, shared),
        model,
        Toolbox(worktree, memory),
        memory,
        budget=AgentBudget(max_turns=2),
    )

    assert (outcome.status, outcome.stop_reason, outcome.turns) == (
        AgentStatus.BUDGET,
        "budget: turns",
        2,
    )
    assert len(server.requests_for("implement")) == 2
    assert server.remaining("implement") == 1


async def test_token_budget_stops_before_the_next_call(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """Once the summed usage reaches max_tokens, no further call is made: 'budget: tokens'."""
    turns = [
        Turn(tool_calls=[ToolCall("search", {"pattern": "greet"})], output_tokens=n)
        for n in (1, 600_000, 1)
    ]
    server.add_script("implement", list(turns))
    memory = FakeMemory()
    totals: list[int] = []

    async def note(info: TurnInfo) -> None:
        totals.append(info.usage.total)

    outcome = await run_agent(
        spec_for(Role.IMPLEMENT, shared),
        model,
        Toolbox(worktree, memory),
        memory,
        budget=AgentBudget(max_tokens=500_000),
        on_turn=note,
    )

    records = server.requests_for("implement")
    assert outcome.status is AgentStatus.BUDGET
    assert outcome.stop_reason == "budget: tokens"
    # Under the limit after the first call, over it after the second: no third call.
    assert totals[0] < 500_000 <= totals[1]
    assert len(records) == outcome.turns == 2
    assert server.remaining("implement") == 1
    assert outcome.usage == usage_of_record(records[0]) + usage_of_record(records[1])


async def test_time_budget_stops_before_the_next_call(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """With a fake clock passing 500 s per turn and 900 s allowed, the loop stops after two."""
    server.add_script("implement", search_turns(3))
    memory = FakeMemory()
    now = [1000.0]

    async def advance(info: TurnInfo) -> None:
        now[0] += 500.0

    outcome = await run_agent(
        spec_for(Role.IMPLEMENT, shared),
        model,
        Toolbox(worktree, memory),
        memory,
        budget=AgentBudget(max_seconds=900.0),
        on_turn=advance,
        clock=lambda: now[0],
    )

    assert (outcome.status, outcome.stop_reason, outcome.turns) == (
        AgentStatus.BUDGET,
        "budget: time",
        2,
    )
    assert len(server.requests_for("implement")) == 2


async def test_tool_errors_come_back_as_error_results(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """Refused paths, unknown tools and bad input are is_error results; the agent goes on."""
    server.add_script(
        "implement",
        [
            Turn(
                tool_calls=[
                    ToolCall(EDITOR, {"command": "view", "path": "../../etc/passwd"}),
                    ToolCall("shell", {"command": "ls"}),
                    ToolCall(
                        EDITOR,
                        {"command": "create", "path": ".github/workflows/x.yml", "file_text": "x"},
                    ),
                    ToolCall("memory", {"action": "write", "key": "k"}),
                    ToolCall("memory", {"action": "write", "key": "k", "value": "v", "mode": "x"}),
                    ToolCall("search", {"pattern": 3}),
                    ToolCall("memory", {"action": "read"}),
                ]
            ),
            Turn(text="gave up"),
        ],
    )
    memory = FakeMemory()

    outcome = await run_agent(
        spec_for(Role.IMPLEMENT, shared),
        model,
        Toolbox(worktree, memory),
        memory,
        budget=AgentBudget(),
    )

    assert outcome.status is AgentStatus.DONE
    results = last_user_blocks(server.requests_for("implement")[1])
    assert [r.get("is_error", False) for r in results] == [True] * 6 + [False]
    messages = [r["content"] for r in results]
    assert messages[0] == "../../etc/passwd: `..` is not allowed in paths"
    assert messages[1].startswith("Unknown tool `shell`. The tools are: ")
    assert messages[2] == ".github/workflows/x.yml: writing here is not allowed"
    assert messages[3] == "Parameter `value` is required."
    assert messages[4] == "`mode` must be `set` or `append`."
    assert messages[5] == "Parameter `pattern` must be of type str."
    assert messages[6].startswith("Shared memory, version 0:")
    assert all("Traceback" not in m for m in messages)
    assert not (worktree / ".github").exists()
    assert outcome.files_written == set()


async def test_workflow_edits_pass_when_the_repository_allows_them(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """allow_workflow_edits lifts the .github/workflows refusal; write globs still bind."""
    workflow = {"command": "create", "path": ".github/workflows/x.yml", "file_text": "on: push\n"}
    outside = {"command": "create", "path": "src/other.py", "file_text": "x = 1\n"}
    server.add_script(
        "implement", [Turn(tool_calls=[ToolCall(EDITOR, workflow), ToolCall(EDITOR, outside)])]
    )
    memory = FakeMemory()
    policy = WritePolicy(
        allowed_globs=(".github/**",), denied_globs=denied_globs(allow_workflow_edits=True)
    )
    tools = Toolbox(worktree, memory, policy=policy)

    outcome = await run_agent(
        spec_for(Role.IMPLEMENT, shared), model, tools, memory, budget=AgentBudget()
    )

    results = last_user_blocks(server.requests_for("implement")[1])
    assert "is_error" not in results[0]
    assert results[1]["is_error"] is True
    assert results[1]["content"] == "src/other.py: writing here is not allowed for this agent"
    assert (worktree / ".github" / "workflows" / "x.yml").read_text() == "on: push\n"
    assert outcome.files_written == {".github/workflows/x.yml"}


@pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)
async def test_run_tool_runs_in_the_sandbox(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """`run` executes in the worktree under the sandbox and reports exit code and output."""
    command = "cat README.md; echo $ANTHROPIC_API_KEY; exit 3"
    server.add_script("implement", [Turn(tool_calls=[ToolCall("run", {"command": command})])])
    memory = FakeMemory()

    await run_agent(
        spec_for(Role.IMPLEMENT, shared),
        model,
        Toolbox(worktree, memory),
        memory,
        budget=AgentBudget(),
    )

    result = last_user_blocks(server.requests_for("implement")[1])[0]
    assert result["content"] == "exit code 3\n# app\n\n"
    assert "is_error" not in result


async def test_model_errors_propagate_with_retryability(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """A 400 leaves the loop at once (no retry cures it); 529s that outlast the attempts leave
    it after them, still retryable, saying how many tries were made."""
    server.add_script("implement", [Turn(error=400), *[Turn(error=529)] * 3])
    memory = FakeMemory()
    seen: list[tuple[bool, int | None, str, int]] = []
    for _ in range(2):
        with pytest.raises(ModelError) as caught:
            await run_agent(
                spec_for(Role.IMPLEMENT, shared),
                model,
                Toolbox(worktree, memory),
                memory,
                budget=AgentBudget(),
                retry=ModelRetry(attempts=3, first_delay=0.01),
            )
        error = caught.value
        seen.append((error.retryable, error.status, str(error), len(server.requests)))
    assert seen == [
        (False, 400, "Messages API answered 400 (invalid_request_error: scripted error)", 1),
        (
            True,
            529,
            "Messages API answered 529 (overloaded_error: scripted error) (after 3 tries)",
            4,
        ),
    ]


async def test_model_error_messages_never_hold_the_api_key(server: ScriptedModel) -> None:
    """A refused key (401) is a non-retryable ModelError whose text does not contain the key."""
    secret = "sk-ant-wrong-secret-123"
    client = AnthropicModel(api_key=secret, base_url=server.base_url)
    try:
        with pytest.raises(ModelError) as caught:
            await client.create(
                model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        await client.close()
    assert (caught.value.retryable, caught.value.status) == (False, 401)
    assert str(caught.value) == (
        "Messages API answered 401 (authentication_error: invalid x-api-key)"
    )
    assert secret not in repr(caught.value)
    assert caught.value.__cause__ is None


async def test_connection_errors_are_retryable() -> None:
    """Nothing listening on the port: a retryable ModelError without a status."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AnthropicModel(api_key="k", base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        with pytest.raises(ModelError) as caught:
            await client.create(
                model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        await client.close()
    assert (caught.value.retryable, caught.value.status) == (True, None)
    assert str(caught.value) == "Messages API connection failed"


async def test_cancellation_propagates_out_of_the_loop(
    server: ScriptedModel, model: AnthropicModel, worktree: Path, shared: SharedContext
) -> None:
    """Cancelling the task while a model call is in flight raises CancelledError to the caller."""
    server.add_script("implement", [Turn(text="late", latency=30)])
    memory = FakeMemory()
    calling = asyncio.Event()

    class Watched:
        async def create(self, **request: Any) -> Any:
            calling.set()
            return await model.create(**request)

    task = asyncio.create_task(
        run_agent(
            spec_for(Role.IMPLEMENT, shared),
            Watched(),
            Toolbox(worktree, memory),
            memory,
            budget=AgentBudget(),
        )
    )
    await calling.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

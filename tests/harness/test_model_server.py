"""Self-tests of the scripted model server, driven by the real anthropic SDK."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import Message, TextBlock, ToolUseBlock

from bot.core.ratelimits import model_retry_delay
from tests.fakes import ModelArrival, ScriptedModel, ToolCall, Turn, classify_request
from tests.support.stack import eventually

# claude-sonnet-4-5 and claude-opus-4-5 make the SDK warn (deprecated): an error under pytest here.
MODEL = "claude-sonnet-4-6"
TOOLS: list[Any] = [
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    {
        "name": "search",
        "description": "git grep in the worktree",
        "input_schema": {"type": "object", "properties": {"pattern": {"type": "string"}}},
    },
]
SHARED = "You are one agent of a team. The plan and the contract follow. " * 40


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    with ScriptedModel({}) as server:
        yield server


def sdk(server: ScriptedModel, api_key: str = "test-key") -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base_url, api_key=api_key, max_retries=0)


def cached_system(role: str) -> list[Any]:
    """A shared cached prefix, then the role's own prompt (as the agents send it)."""
    return [
        {"type": "text", "text": SHARED, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": f"<role>{role}</role> Do your part."},
    ]


async def ask(client: anthropic.AsyncAnthropic, role: str, text: str = "go") -> Message:
    return await client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system=cached_system(role),
        messages=[{"role": "user", "content": text}],
    )


async def test_forced_tool_answer_parses_into_sdk_types(model: ScriptedModel) -> None:
    """A forced-tool request with the text editor tool round-trips into SDK Message types."""
    plan = {"summary": "add a flag", "agents": ["implement"]}
    model.add_script(
        "submit_plan", [Turn(text="Plan:", tool_calls=[ToolCall("submit_plan", plan)])]
    )
    async with sdk(model) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=2048,
            tools=TOOLS,
            tool_choice={"type": "tool", "name": "submit_plan"},
            messages=[{"role": "user", "content": "Plan this task."}],
        )
    assert isinstance(message, Message)
    text, call = message.content
    assert isinstance(text, TextBlock) and text.text == "Plan:"
    assert isinstance(call, ToolUseBlock) and call.name == "submit_plan" and call.input == plan
    assert call.id.startswith("toolu_") and message.id.startswith("msg_")
    assert (message.model, message.stop_reason, message.stop_sequence) == (MODEL, "tool_use", None)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    (recorded,) = model.requests_for("submit_plan")
    assert recorded.status == 200 and recorded.body["tools"] == TOOLS
    assert set(recorded.response) == {
        *("id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"),
    }
    assert set(recorded.response["usage"]) == {
        *("input_tokens", "output_tokens"),
        *("cache_creation_input_tokens", "cache_read_input_tokens"),
    }


async def test_callable_turn_reads_the_tool_result(model: ScriptedModel) -> None:
    """A callable turn receives the request and can answer from the last tool_result."""
    seen: list[Any] = []

    def after_search(body: dict[str, Any]) -> Turn:
        result = body["messages"][-1]["content"][-1]
        seen.append(result)
        return Turn(text=f"found {result['content']}")

    model.add_script(
        "implement", [Turn(tool_calls=[ToolCall("search", {"pattern": "def main"})]), after_search]
    )
    messages: list[Any] = [{"role": "user", "content": "find main"}]
    async with sdk(model) as client:
        first = await client.messages.create(
            model=MODEL, max_tokens=512, system=cached_system("implement"), tools=TOOLS,
            messages=messages,
        )  # fmt: skip
        (call,) = first.content
        assert isinstance(call, ToolUseBlock) and first.stop_reason == "tool_use"
        messages += [
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "cli.py:3"}],
            },
        ]
        second = await client.messages.create(
            model=MODEL, max_tokens=512, system=cached_system("implement"), tools=TOOLS,
            messages=messages,
        )  # fmt: skip
    assert seen == [{"type": "tool_result", "tool_use_id": call.id, "content": "cli.py:3"}]
    assert second.stop_reason == "end_turn"
    assert [block.text for block in second.content if isinstance(block, TextBlock)] == [
        "found cli.py:3"
    ]
    assert model.remaining("implement") == 0


@pytest.mark.parametrize(
    ("status", "exception", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (500, anthropic.InternalServerError, "api_error"),
    ],
)
async def test_error_turns_raise_the_sdk_exceptions(
    model: ScriptedModel, status: int, exception: type[anthropic.APIStatusError], error_type: str
) -> None:
    """An error turn answers its status with Anthropic's error body, consuming the turn."""
    model.add_script("docs", [Turn(error=status), Turn(text="recovered")])
    async with sdk(model) as client:
        with pytest.raises(anthropic.APIStatusError) as raised:
            await ask(client, "docs")
        assert type(raised.value) is exception  # OverloadedError subclasses InternalServerError
        assert raised.value.type == error_type and raised.value.request_id
        retry_after = raised.value.response.headers.get("retry-after")
        assert retry_after == ("1" if status == 429 else None)
        assert model.remaining("docs") == 1
        answer = await ask(client, "docs")
    assert isinstance(answer.content[0], TextBlock) and answer.content[0].text == "recovered"
    assert [r.status for r in model.requests_for("docs")] == [status, 200]


async def test_identical_prefix_is_created_then_read(model: ScriptedModel) -> None:
    """The first request writes the cached prefix; a second with the same prefix reads it."""
    async with sdk(model) as client:
        first = await ask(client, "implement", "implement the flag")
        second = await ask(client, "test", "test the flag and every edge case of it")
    shared_block = json.dumps(cached_system("x")[0], sort_keys=True, separators=(",", ":"))
    assert first.usage.cache_creation_input_tokens == math.ceil(len(shared_block) / 4)
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert 0 < first.usage.input_tokens < second.usage.input_tokens  # the longer role text


async def test_cache_reads_the_longest_cached_breakpoint(model: ScriptedModel) -> None:
    """With two breakpoints, the cached one is read and the span up to the last is written."""
    turns: list[Any] = [{"role": "user", "content": [{"type": "text", "text": "step " * 100}]}]
    async with sdk(model) as client:
        first = await ask(client, "implement")
        turns[0]["content"][0]["cache_control"] = {"type": "ephemeral"}
        second = await client.messages.create(
            model=MODEL, max_tokens=64, system=cached_system("implement"), messages=turns
        )
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert (second.usage.cache_creation_input_tokens or 0) > 125  # role text + long message
    assert second.usage.input_tokens == 0


async def test_short_prefix_below_minimum_is_not_cached() -> None:
    """A prefix shorter than min_cacheable_tokens is neither written nor read."""
    with ScriptedModel({}, min_cacheable_tokens=4096) as server:
        async with sdk(server) as client:
            first = await ask(client, "implement")
            second = await ask(client, "implement")
    for message in (first, second):
        assert message.usage.cache_creation_input_tokens == 0
        assert message.usage.cache_read_input_tokens == 0


async def test_warming_request_writes_the_cache_without_a_turn(model: ScriptedModel) -> None:
    """max_tokens=0 answers empty with stop_reason max_tokens, writes the cache, keeps the turn."""
    model.add_script("implement", [Turn(text="working")])
    async with sdk(model) as client:
        warm = await client.messages.create(
            model=MODEL,
            max_tokens=0,
            system=cached_system("implement"),
            messages=[{"role": "user", "content": "warm"}],
        )
        assert model.remaining("implement") == 1
        real = await ask(client, "implement")
    assert (warm.content, warm.stop_reason, warm.usage.output_tokens) == ([], "max_tokens", 0)
    assert (warm.usage.cache_creation_input_tokens or 0) > 0
    assert real.usage.cache_read_input_tokens == warm.usage.cache_creation_input_tokens
    assert isinstance(real.content[0], TextBlock) and real.content[0].text == "working"


async def test_exhausted_script_answers_done(model: ScriptedModel) -> None:
    """A role without turns left ends its turn with "done." and the request is recorded."""
    model.add_script("docs", [Turn(text="first")])
    async with sdk(model) as client:
        await ask(client, "docs")
        extra = await ask(client, "docs")
        unknown = await ask(client, "reviewer")
    for message in (extra, unknown):
        assert message.stop_reason == "end_turn"
        assert [b.text for b in message.content if isinstance(b, TextBlock)] == ["done."]
    assert len(model.requests_for("docs")) == 2 and len(model.requests_for("reviewer")) == 1


async def test_concurrent_requests_overlap() -> None:
    """Three roles with 0.3 s latency are served at once: every one starts before any ends."""
    with ScriptedModel({}, default_latency=0.3) as server:
        async with sdk(server) as client:
            await asyncio.gather(*(ask(client, role) for role in ("implement", "test", "docs")))
        records = server.requests
    assert sorted(r.role for r in records) == ["docs", "implement", "test"]
    assert all(r.ended_at - r.started_at >= 0.3 for r in records)
    assert max(r.started_at for r in records) < min(r.ended_at for r in records)


async def test_concurrent_cold_requests_all_write_the_cache() -> None:
    """Requests that arrive before any response started all write: why the app warms first."""
    with ScriptedModel({}, default_latency=0.3) as server:
        async with sdk(server) as client:
            cold = await asyncio.gather(*(ask(client, role) for role in ("implement", "test")))
            later = await ask(client, "docs")
    assert [m.usage.cache_read_input_tokens for m in cold] == [0, 0]
    assert all((m.usage.cache_creation_input_tokens or 0) > 0 for m in cold)
    assert later.usage.cache_read_input_tokens == cold[0].usage.cache_creation_input_tokens


async def test_wrong_api_key_is_refused(model: ScriptedModel) -> None:
    """A key other than the server's raises AuthenticationError and consumes no turn."""
    model.add_script("implement", [Turn(text="never")])
    async with sdk(model, api_key="wrong-key") as client:
        with pytest.raises(anthropic.AuthenticationError) as raised:
            await ask(client, "implement")
    assert raised.value.type == "authentication_error"
    assert model.remaining("implement") == 1
    assert [(r.role, r.status) for r in model.requests] == [("implement", 401)]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 5}, "model"),
        ({"model": MODEL, "messages": [], "max_tokens": 5}, "messages"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"},
            "max",
        ),
    ],
)
async def test_malformed_request_is_a_400(
    model: ScriptedModel, body: dict[str, Any], problem: str
) -> None:
    """A body missing model, messages or an integer max_tokens gets invalid_request_error."""
    model.add_script("default", [Turn(text="never")])
    async with httpx.AsyncClient(base_url=model.base_url) as raw:
        response = await raw.post("/v1/messages", json=body, headers={"x-api-key": "test-key"})
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(problem)
    assert model.remaining("default") == 1


async def test_x_api_key_header_is_accepted(model: ScriptedModel) -> None:
    """The API's own x-api-key header authenticates as well as the SDK's bearer header."""
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=model.base_url) as raw:
        good = await raw.post("/v1/messages", json=body, headers={"x-api-key": "test-key"})
        bad = await raw.post("/v1/messages", json=body, headers={"x-api-key": "nope"})
    assert (good.status_code, bad.status_code) == (200, 401)
    assert bad.json()["error"]["type"] == "authentication_error"


async def test_failing_callable_turn_reports_its_exception(model: ScriptedModel) -> None:
    """A script callable that raises answers 500 with the exception in the message."""

    def broken(body: dict[str, Any]) -> Turn:
        raise KeyError("tool_result")

    model.add_script("implement", [broken])
    async with sdk(model) as client:
        with pytest.raises(anthropic.InternalServerError) as raised:
            await ask(client, "implement")
    assert "KeyError('tool_result')" in str(raised.value.api_message)


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


TEXT_BLOCK = {"type": "text", "text": "<role>docs</role>"}


@pytest.mark.parametrize(
    ("body", "role"),
    [
        ({"tool_choice": {"type": "tool", "name": "plan"}, "system": "<role>x</role>"}, "plan"),
        ({"tool_choice": {"type": "auto"}, "system": [TEXT_BLOCK]}, "docs"),
        ({"system": "shared", "messages": [user("<role>test</role> go")]}, "test"),
        ({"messages": [user([{"type": "text", "text": "<role>a-1</role>"}])]}, "a-1"),
        ({"messages": [user("go"), user("<role>late</role>")]}, "default"),
        ({"system": "no tag", "messages": []}, "default"),
    ],
)
def test_classify_request(body: dict[str, Any], role: str) -> None:
    """Forced tool name first, then a role tag in the system or first user text, else default."""
    assert classify_request(body) == role


def test_base_url_needs_a_started_server() -> None:
    """base_url before start() or after stop() raises instead of pointing at nothing."""
    server = ScriptedModel({})
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = server.base_url


async def test_barrier_turns_answer_only_when_all_parties_arrived() -> None:
    """Turns at one barrier are held until the last party arrives, then all answer."""
    script = [Turn(text="ok", barrier="meet", parties=2)]
    with ScriptedModel({"a": list(script), "b": list(script)}) as server:
        async with sdk(server) as client:
            first = asyncio.ensure_future(ask(client, "a"))
            await asyncio.sleep(0)  # let it be sent
            done, _ = await asyncio.wait([first], timeout=0.3)
            assert not done  # alone at the barrier: still waiting
            await ask(client, "b")
            assert (await first).content[0].text == "ok"  # type: ignore[union-attr]


async def test_held_turn_answers_after_release() -> None:
    """A held turn stays in flight (counted in `held`) until release_held()."""
    with ScriptedModel({"a": [Turn(text="later", hold=True)]}) as server:
        async with sdk(server) as client:
            pending = asyncio.ensure_future(ask(client, "a"))
            await eventually(lambda: server.held)
            assert not pending.done()
            server.release_held()
            assert (await pending).content[0].text == "later"  # type: ignore[union-attr]
            assert server.held == 0


# -- durability faults and accounting --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "header", "delay"),
    [
        (429, 12, "12", 12.0),
        (529, 3, "3", 3.0),
        (529, 0.5, "0.5", 0.5),
        (429, None, "1", 1.0),  # the server's default on a 429
        (529, None, None, None),  # overloaded without a hint
        (500, None, None, None),
    ],
)
async def test_error_turns_carry_the_chosen_retry_after(
    model: ScriptedModel,
    status: int,
    retry_after: float | None,
    header: str | None,
    delay: float | None,
) -> None:
    """An error turn sends `retry-after` of the chosen seconds on any status; the app's parser
    reads the delay the server asked for."""
    model.add_script("docs", [Turn(error=status, retry_after=retry_after)])
    async with sdk(model) as client:
        with pytest.raises(anthropic.APIStatusError) as raised:
            await ask(client, "docs")
    headers = raised.value.response.headers
    assert raised.value.status_code == status and headers.get("retry-after") == header
    assert model_retry_delay(status, headers, now=time.time(), maximum=60) == delay


@pytest.mark.parametrize("drop", ["before", "mid"])
async def test_dropped_connection_fails_the_call_and_is_not_delivered(
    model: ScriptedModel, drop: str
) -> None:
    """A dropped answer (no answer, or half a body) is a connection error to the SDK; its usage
    counts as served but not delivered; the next turn is served normally."""
    model.add_script("implement", [Turn(text="lost", drop=drop), Turn(text="kept")])
    async with sdk(model) as client:
        with pytest.raises(anthropic.APIConnectionError) as raised:
            await ask(client, "implement")
        assert not isinstance(raised.value, anthropic.APITimeoutError)
        kept = await ask(client, "implement")
    lost_record, kept_record = model.requests_for("implement")
    assert (lost_record.status, lost_record.delivered, kept_record.delivered) == (200, False, True)
    assert model.served_usage("implement").output_tokens == kept.usage.output_tokens
    undelivered = model.served_usage("implement", delivered=False)
    assert undelivered.requests == 1
    assert undelivered.output_tokens == lost_record.response["usage"]["output_tokens"]


async def test_dropped_mid_response_sends_headers_then_half_the_body(model: ScriptedModel) -> None:
    """ "mid": the status and headers arrive, then the body stops halfway and the socket closes."""
    model.add_script("implement", [Turn(text="x" * 400, drop="mid")])
    body = {"model": MODEL, "max_tokens": 64, "system": "<role>implement</role>",
            "messages": [{"role": "user", "content": "go"}]}  # fmt: skip
    async with (
        httpx.AsyncClient(base_url=model.base_url) as raw,
        raw.stream("POST", "/v1/messages", json=body, headers={"x-api-key": "test-key"}) as answer,
    ):
        assert answer.status_code == 200
        expected = int(answer.headers["content-length"])
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            async for chunk in answer.aiter_raw():
                received += chunk
    assert 0 < len(received) == expected // 2


async def test_stall_past_the_client_timeout(model: ScriptedModel) -> None:
    """A stalled answer times a short-timeout client out mid-response (not delivered); a
    patient client gets it whole (delivered)."""
    model.add_script("test", [Turn(text="slow", stall=1.0), Turn(text="slow", stall=0.2)])
    impatient = anthropic.AsyncAnthropic(
        base_url=model.base_url, api_key="test-key", max_retries=0, timeout=0.3
    )
    async with impatient:
        with pytest.raises(anthropic.APITimeoutError):
            await ask(impatient, "test")
    await eventually(lambda: model.served_usage("test", delivered=False).requests == 1, 5)
    async with sdk(model) as client:
        answer = await ask(client, "test")
    assert answer.content[0].text == "slow"  # type: ignore[union-attr]
    # The server marks an answer delivered once its write has completed, which may be just
    # after the client has read it.
    await eventually(lambda: [r.delivered for r in model.requests_for("test")] == [False, True], 5)


async def test_served_usage_per_role_matches_what_clients_got(model: ScriptedModel) -> None:
    """The per-role counter of served usage equals the sum of the usage the SDK returned;
    errors count nothing; the total sums every token kind."""
    model.add_script("implement", [Turn(text="a"), Turn(error=529), Turn(text="bb")])
    model.add_script("docs", [Turn(text="c" * 200)])
    got: dict[str, list[Any]] = {"implement": [], "docs": []}
    async with sdk(model) as client:
        got["implement"].append((await ask(client, "implement")).usage)
        with pytest.raises(anthropic.InternalServerError):
            await ask(client, "implement")
        got["implement"].append((await ask(client, "implement", "again")).usage)
        got["docs"].append((await ask(client, "docs")).usage)
    for role, usages in got.items():
        served = model.served_usage(role)
        assert served.requests == len(usages)
        assert served.input_tokens == sum(u.input_tokens for u in usages)
        assert served.output_tokens == sum(u.output_tokens for u in usages)
        assert served.cache_creation_input_tokens == sum(
            u.cache_creation_input_tokens or 0 for u in usages
        )
        assert served.cache_read_input_tokens == sum(u.cache_read_input_tokens or 0 for u in usages)
    both = model.served_usage()
    assert both.total == model.served_usage("implement").total + model.served_usage("docs").total
    assert both.total == sum(
        u.input_tokens + u.output_tokens + (u.cache_creation_input_tokens or 0)
        + (u.cache_read_input_tokens or 0)
        for usages in got.values() for u in usages
    )  # fmt: skip


async def test_request_hook_fires_on_the_nth_turn_before_it_is_answered(
    model: ScriptedModel,
) -> None:
    """on_request(role, nth) runs when that request arrives, before its answer (the earlier
    ones are answered, this one is not); warming requests do not count; errors are kept."""
    seen: list[tuple[Any, int]] = []
    model.on_request(
        "implement", lambda a: seen.append((a, len(model.requests_for("implement")))), nth=2
    )

    def fail(arrival: ModelArrival) -> None:
        raise ZeroDivisionError

    model.on_request("implement", fail, nth=3)
    model.add_script("implement", [Turn(text="1"), Turn(text="2"), Turn(text="3")])
    async with sdk(model) as client:
        await client.messages.create(
            model=MODEL, max_tokens=0, system=cached_system("implement"),
            messages=[{"role": "user", "content": "warm"}],
        )  # fmt: skip
        for text in ("a", "b", "c"):
            await ask(client, "implement", text)
    [(arrival, answered_before)] = seen
    assert (arrival.role, arrival.nth, answered_before) == ("implement", 2, 2)  # warm + first
    assert arrival.client is not None and arrival.client[0] == "127.0.0.1"
    assert [type(e) for e in model.hook_errors] == [ZeroDivisionError]
    assert [r.status for r in model.requests_for("implement")] == [200, 200, 200, 200]

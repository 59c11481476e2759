"""Eliding a conversation's history to fit a request cap: oldest first, structure kept."""

from __future__ import annotations

import copy
from typing import Any

from bot.agents.limits import elide_history, json_size

BIG = "z" * 10_000


def conversation() -> list[dict[str, Any]]:
    """The task, then two turns of one call each, then the newest results."""
    return [
        {"role": "user", "content": [{"type": "text", "text": "task " + BIG}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "thinking " + BIG},
                {"type": "tool_use", "id": "t1", "name": "memory", "input": {"value": BIG}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": BIG * 3}],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t2", "name": "search", "input": {"p": "x"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": BIG}]},
    ]


def shape(messages: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """Each block's type and id: what the API checks between calls and results."""
    return [
        [(b["type"], b.get("id", b.get("tool_use_id", ""))) for b in m["content"]] for m in messages
    ]


def test_a_conversation_under_the_limit_is_left_alone() -> None:
    """Under the cap: nothing changes, the size comes back as given."""
    messages = conversation()
    size = json_size(messages)
    assert elide_history(messages, size, size) == size
    assert messages == conversation()


def test_oldest_tool_results_go_first_down_to_three_quarters() -> None:
    """Just over the cap: the oldest result is elided, the newest stays whole; the returned
    size is the real one."""
    messages = conversation()
    size = json_size(messages)

    new_size = elide_history(messages, size, size - 1)

    assert new_size == json_size(messages) <= (size - 1) * 3 // 4
    assert messages[2]["content"][0]["content"] == "[30002 bytes of old tool output elided]"
    assert messages[4]["content"][0]["content"] == BIG
    assert (
        messages[1] == conversation()[1]
    )  # the model's own blocks only when results are not enough
    assert shape(messages) == shape(conversation())


def test_then_the_models_long_inputs_and_texts_are_cut_and_the_task_stays() -> None:
    """A tight cap: every result elided, then long inputs and texts cut to their start; the
    first message (the task) is never touched; ids and types stay."""
    messages = conversation()
    original = copy.deepcopy(messages)

    new_size = elide_history(messages, json_size(messages), 8_000)

    assert new_size == json_size(messages)
    assert messages[0] == original[0]
    assert messages[1]["content"][1]["input"] == {"value": "z" * 200 + "… [9800 characters elided]"}
    assert messages[1]["content"][0]["text"] == ("thinking " + BIG)[:200] + (
        "… [9809 characters elided]"
    )
    assert messages[3] == original[3]  # short input: nothing worth cutting
    assert shape(messages) == shape(original)


def test_what_cannot_be_cut_is_reported_over_the_limit() -> None:
    """Only the task is big: nothing to elide, the size stays over the cap."""
    messages = conversation()[:1]
    size = json_size(messages)
    assert elide_history(messages, size, 100) == size

"""The shared memory document: versioned writes, their bounds, what agents are shown."""

from __future__ import annotations

import pytest

from bot.core.memory import MAX_NOTES, MAX_VALUE_CHARS, Memory, MemoryWrite, WriteMode, check_write
from bot.errors import MemoryRefused


def test_writes_are_versioned_and_attributed() -> None:
    """Each write gets the next version and records who wrote it and when."""
    memory = Memory()
    first = memory.apply(MemoryWrite(agent="implement", key="api", value="main(argv)"), at="t1")
    second = memory.apply(MemoryWrite(agent="test", key="fixtures", value="capsys"), at="t2")
    assert (first.version, first.agent, first.at) == (1, "implement", "t1")
    assert (second.version, memory.version) == (2, 2)


def test_set_replaces_and_append_keeps() -> None:
    """`set` replaces a key's value; `append` adds a note beside earlier ones."""
    memory = Memory()
    memory.apply(MemoryWrite(agent="implement", key="api", value="v1"), at="t")
    memory.apply(MemoryWrite(agent="docs", key="api", value="v2"), at="t")
    memory.apply(MemoryWrite(agent="test", key="log", value="a", mode=WriteMode.APPEND), at="t")
    memory.apply(MemoryWrite(agent="test", key="log", value="b", mode=WriteMode.APPEND), at="t")
    current = memory.current()
    assert [n.value for n in current["api"]] == ["v2"]
    assert [n.value for n in current["log"]] == ["a", "b"]


def test_since_returns_only_newer_notes() -> None:
    """An agent that saw version 1 gets exactly the notes written after it."""
    memory = Memory()
    for n in range(3):
        memory.apply(MemoryWrite(agent="implement", key=f"k{n}", value=str(n)), at="t")
    assert [note.key for note in memory.since(1)] == ["k1", "k2"]
    assert memory.since(3) == []


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (MemoryWrite(agent="a", key="  ", value="x"), "key must be 1-100 characters"),
        (MemoryWrite(agent="a", key="k" * 101, value="x"), "key must be 1-100 characters"),
        (
            MemoryWrite(agent="a", key="k", value="x" * (MAX_VALUE_CHARS + 1)),
            "value is 4001 characters; the limit is 4000",
        ),
    ],
)
def test_bad_writes_are_refused_and_change_nothing(write: MemoryWrite, message: str) -> None:
    """Refused writes raise with a reason the agent can read and leave the document as it was."""
    memory = Memory()
    with pytest.raises(MemoryRefused, match=message):
        memory.apply(write, at="t")
    assert memory == Memory()


def test_memory_has_a_note_limit() -> None:
    """A full memory refuses further notes."""
    memory = Memory()
    for n in range(MAX_NOTES):
        memory.apply(MemoryWrite(agent="a", key="log", value=str(n), mode=WriteMode.APPEND), at="t")
    with pytest.raises(MemoryRefused, match="memory is full"):
        memory.apply(MemoryWrite(agent="a", key="more", value="x"), at="t")


def test_render_lists_notes_with_author_and_version() -> None:
    """The rendered memory shows key, author and version of each note."""
    memory = Memory()
    assert memory.render() == "_(no notes)_"
    memory.apply(MemoryWrite(agent="implement", key="api", value="main(argv)\nreturns int"), at="t")
    assert memory.render() == "- **api** (implement, v1): main(argv)\n  returns int"


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (MemoryWrite(agent="a", key="", value="x"), "key must be 1-100 characters"),
        (
            MemoryWrite(agent="a", key="k", value="x" * 10_000_000),
            "value is 10000000 characters; the limit is 4000",
        ),
        (MemoryWrite(agent="a" * 101, key="k", value="x"), "agent must be at most 100 characters"),
    ],
)
def test_check_write_bounds_a_write_without_a_document(write: MemoryWrite, message: str) -> None:
    """The bounds a writer checks before sending: key, value and author lengths."""
    with pytest.raises(MemoryRefused, match=f"^{message}$"):
        check_write(write)

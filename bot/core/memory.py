"""The shared memory document: plan, contract and the agents' notes, with versioned writes.

Pure: the run workflow holds the document and applies writes through a Temporal update, which
makes them linearizable; agents see notes newer than the version they last saw.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from bot.core.plan import Plan
from bot.errors import MemoryRefused

MAX_KEY_CHARS = 100
MAX_VALUE_CHARS = 4000
MAX_NOTES = 200
MAX_TOTAL_CHARS = 100_000


class WriteMode(StrEnum):
    SET = "set"  # replace the value of a key
    APPEND = "append"  # add a note under a key, keeping earlier ones


class MemoryWrite(BaseModel):
    agent: str
    key: str
    value: str
    mode: WriteMode = WriteMode.SET


class Note(BaseModel):
    agent: str
    key: str
    value: str
    version: int
    at: str  # ISO time of the write (workflow time: deterministic)


def check_write(write: MemoryWrite) -> None:
    """Refuse a write whose key, value or author is out of bounds, whatever the document holds.

    Callers check before sending a write anywhere: a payload over Temporal's size limits fails
    the run workflow's task instead of being refused, however the workflow validates it.
    """
    key = write.key.strip()
    if not key or len(key) > MAX_KEY_CHARS:
        raise MemoryRefused(f"key must be 1-{MAX_KEY_CHARS} characters")
    if len(write.value) > MAX_VALUE_CHARS:
        raise MemoryRefused(
            f"value is {len(write.value)} characters; the limit is {MAX_VALUE_CHARS}"
        )
    if len(write.agent) > MAX_KEY_CHARS:
        raise MemoryRefused(f"agent must be at most {MAX_KEY_CHARS} characters")


class Memory(BaseModel):
    plan: Plan | None = None
    notes: list[Note] = Field(default_factory=list)
    version: int = 0

    def current(self) -> dict[str, list[Note]]:
        """Notes by key: for a `set` key, its latest value; appended notes all kept."""
        by_key: dict[str, list[Note]] = {}
        for note in self.notes:
            by_key.setdefault(note.key, []).append(note)
        return by_key

    def since(self, version: int) -> list[Note]:
        return [note for note in self.notes if note.version > version]

    def apply(self, write: MemoryWrite, at: str) -> Note:
        """Validate and apply one write; returns the note it became."""
        check_write(write)
        key = write.key.strip()
        if len(self.notes) >= MAX_NOTES:
            raise MemoryRefused(f"memory is full ({MAX_NOTES} notes)")
        if write.mode is WriteMode.SET:
            kept = [note for note in self.notes if note.key != key]
        else:
            kept = list(self.notes)
        total = sum(len(note.value) for note in kept) + len(write.value)
        if total > MAX_TOTAL_CHARS:
            raise MemoryRefused(
                f"memory would hold {total} characters; the limit is {MAX_TOTAL_CHARS}"
            )
        self.version += 1
        note = Note(agent=write.agent, key=key, value=write.value, version=self.version, at=at)
        self.notes = [*kept, note]
        return note

    def render(self) -> str:
        """Markdown of the notes, as agents and the PR's details block show them."""
        if not self.notes:
            return "_(no notes)_"
        lines = []
        for note in self.notes:
            value = note.value.replace("\n", "\n  ")
            lines.append(f"- **{note.key}** ({note.agent}, v{note.version}): {value}")
        return "\n".join(lines)

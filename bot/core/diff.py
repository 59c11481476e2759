"""A diff as data: its files and their -U0 hunks (git/parse.py reads them from git output)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FileStatus = Literal["added", "deleted", "renamed", "modified"]


@dataclass(frozen=True)
class RawHunk:
    """One `@@ -old_start,old_count +new_start,new_count @@` block of a -U0 diff."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int


@dataclass
class FileDiff:
    """One file of a diff. A path is None on the side where the file does not exist."""

    old_path: str | None
    new_path: str | None
    binary: bool = False
    mode_changed: bool = False
    submodule: bool = False  # a gitlink (mode 160000) on either side: no lines to blame
    hunks: list[RawHunk] = field(default_factory=list)

    @property
    def status(self) -> FileStatus:
        if self.old_path is None:
            return "added"
        if self.new_path is None:
            return "deleted"
        return "renamed" if self.old_path != self.new_path else "modified"

    @property
    def path(self) -> str:
        """The name the file has at the end (or had, when deleted)."""
        name = self.new_path if self.new_path is not None else self.old_path
        assert name is not None
        return name

    @property
    def added(self) -> int:
        return sum(h.new_count for h in self.hunks)

    @property
    def removed(self) -> int:
        return sum(h.old_count for h in self.hunks)

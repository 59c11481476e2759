"""Which agent wrote which hunk of the final diff.

Pure: the inputs are git's output, parsed (bot/activities/repo.py runs the commands, and
bot/git/parse.py reads them). Added lines are attributed by `git blame` of the head; removed
lines by following each base line through the commits' patches to the commit that removed it.
Counts come from the final diff itself, so the totals always equal
`git diff --numstat base...head`.

The work is bounded whatever the diff: files are attributed hunk by hunk (blame, traced
removals) only while their hunks and lines fit MAX_DETAILED_HUNKS and MAX_DETAILED_LINES, in
diff order; any other file gets one whole-file row (kind "large") whose counts still come from
the diff. A change of 100,000 one-line hunks costs one row, not 100,000 blame ranges.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

from bot.core.diff import FileDiff, FileStatus, RawHunk
from bot.core.plan import UNKNOWN_AGENT, role_rank

HunkKind = Literal["lines", "binary", "submodule", "renamed", "mode", "empty", "large"]

MAX_DETAILED_HUNKS = 2_000
MAX_DETAILED_LINES = 20_000  # added plus removed


class LineCount(BaseModel):
    added: int = 0
    removed: int = 0


class Hunk(BaseModel):
    """One hunk of the final diff (or one whole file when it has no text hunks)."""

    path: str  # the name at head; the old name when the file was deleted
    old_path: str | None  # None for an added file
    status: FileStatus
    kind: HunkKind = "lines"
    new_start: int
    new_count: int
    old_start: int
    old_count: int
    added: int
    removed: int
    agents: list[str]
    commits: list[str]
    lines_by_agent: dict[str, LineCount]


class Attribution(BaseModel):
    hunks: list[Hunk]
    totals_by_agent: dict[str, LineCount]
    total_added: int
    total_removed: int


def follow_line(line: int, hunks: Iterable[RawHunk]) -> int | None:
    """Where old line `line` sits after a -U0 patch of its file; None if the patch removes it.
    "-a,0" inserts after line a; "-a,b" replaces lines a..a+b-1."""
    return _Patch(list(hunks)).follow(line)


class _Patch:
    """follow_line for one file's -U0 patch, by bisection: log(hunks) per line, so a patch of
    100,000 hunks costs no more to pass a line through than a small one."""

    def __init__(self, hunks: Sequence[RawHunk]) -> None:
        self.hunks = sorted(hunks, key=lambda h: h.old_start)
        self.first_after = [h.old_start + (h.old_count or 1) for h in self.hunks]
        self.shift_before = [0]
        for hunk in self.hunks:
            self.shift_before.append(self.shift_before[-1] + hunk.new_count - hunk.old_count)

    def follow(self, line: int) -> int | None:
        at = bisect.bisect_right(self.first_after, line)  # hunks before `at` end before `line`
        if at < len(self.hunks):
            hunk = self.hunks[at]
            if hunk.old_count and hunk.old_start <= line:
                return None
        return line + self.shift_before[at]


def trace_removals(
    history: Sequence[tuple[str, list[FileDiff]]], lines: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """For each (base path, base line), the sha of the first commit in `history` removing it.

    Lines that survive every patch (the final diff aligned them differently) are left out.
    """
    alive = {line: line for line in lines}  # base (path, line) → where it is now
    removed: dict[tuple[str, int], str] = {}
    for sha, files in history:
        by_old = {f.old_path: f for f in files if f.old_path is not None}
        patches: dict[str, _Patch] = {}
        for base, (path, position) in list(alive.items()):
            change = by_old.get(path)
            if change is None:
                continue
            patch = patches.get(path) or patches.setdefault(path, _Patch(change.hunks))
            moved = patch.follow(position)
            if moved is None or change.new_path is None:
                removed[base] = sha
                del alive[base]
            else:
                alive[base] = (change.new_path, moved)
    return removed


def detailed_files(
    files: Sequence[FileDiff],
    max_hunks: int = MAX_DETAILED_HUNKS,
    max_lines: int = MAX_DETAILED_LINES,
) -> list[FileDiff]:
    """The text files attributed hunk by hunk: in diff order, while their hunks and their
    lines fit what is left of the budgets (a large file is skipped, later ones still fit)."""
    chosen: list[FileDiff] = []
    for file in files:
        if file.binary or file.submodule or not file.hunks:
            continue
        lines = file.added + file.removed
        if len(file.hunks) <= max_hunks and lines <= max_lines:
            chosen.append(file)
            max_hunks -= len(file.hunks)
            max_lines -= lines
    return chosen


def _kind(file: FileDiff) -> HunkKind:
    if file.submodule:
        return "submodule"
    if file.binary:
        return "binary"
    if file.hunks:
        return "large"
    if file.status == "renamed":
        return "renamed"
    return "mode" if file.mode_changed else "empty"


def _lines_hunk(
    file: FileDiff,
    raw: RawHunk,
    added: list[str | None],
    removed: list[str | None],
    agents_by_commit: Mapping[str, str],
) -> Hunk:
    """A text hunk from the commit of each of its added and removed lines (None: not found)."""

    def agent_of(sha: str | None) -> str:
        return agents_by_commit.get(sha, UNKNOWN_AGENT) if sha else UNKNOWN_AGENT

    added_by = Counter(agent_of(sha) for sha in added)
    removed_by = Counter(agent_of(sha) for sha in removed)
    rank = {sha: index for index, sha in enumerate(agents_by_commit)}
    commits = sorted({sha for sha in added + removed if sha in rank}, key=rank.__getitem__)
    agents = list(dict.fromkeys([agents_by_commit[sha] for sha in commits]))
    agents += [agent for agent in (added_by + removed_by) if agent not in agents]
    return Hunk(
        path=file.path,
        old_path=file.old_path,
        status=file.status,
        new_start=raw.new_start,
        new_count=raw.new_count,
        old_start=raw.old_start,
        old_count=raw.old_count,
        added=len(added),
        removed=len(removed),
        agents=agents,
        commits=commits,
        lines_by_agent={a: LineCount(added=added_by[a], removed=removed_by[a]) for a in agents},
    )


def _whole_file(
    file: FileDiff,
    history: Sequence[tuple[str, list[FileDiff]]],
    agents_by_commit: Mapping[str, str],
) -> Hunk:
    """A file without blameable lines (binary, submodule, pure rename, mode change, empty) or
    past the budgets (large): it goes to the commits whose patches touched either of its
    names, its counts to the agent of the last of them. A submodule's one
    "Subproject commit" line per side is counted (the diff's totals count it) for the agent of
    the last such commit, whose pointer is the one that stands."""
    names = {file.old_path, file.new_path} - {None}
    commits = [
        sha
        for sha, changes in history
        if any({change.old_path, change.new_path} & names for change in changes)
    ]
    agents = list(dict.fromkeys(agents_by_commit.get(sha, UNKNOWN_AGENT) for sha in commits))
    last = agents_by_commit.get(commits[-1], UNKNOWN_AGENT) if commits else UNKNOWN_AGENT
    counted = file.added or file.removed
    return Hunk(
        path=file.path,
        old_path=file.old_path,
        status=file.status,
        kind=_kind(file),
        new_start=0,
        new_count=0,
        old_start=0,
        old_count=0,
        added=file.added,
        removed=file.removed,
        agents=agents or [UNKNOWN_AGENT],
        commits=commits,
        lines_by_agent={last: LineCount(added=file.added, removed=file.removed)} if counted else {},
    )


def attribute(
    files: Sequence[FileDiff],
    blames: Mapping[str, Mapping[int, str]],
    history: Sequence[tuple[str, list[FileDiff]]],
    agents_by_commit: Mapping[str, str],
) -> Attribution:
    """Attribute every hunk of a -U0 diff to the agents whose commits wrote its lines.

    files: `git diff -U0 base...head`, parsed. blames: head path → final line → sha, from
    `git blame` over base..head. history: the first-parent -U0 patches of base..head, oldest
    first, as (sha, files). agents_by_commit: every commit of base..head → its
    Orchestrate-Agent role, oldest first. A line whose commit is not in agents_by_commit (or
    is not found at all) counts as "unknown". Only `detailed_files(files)` are attributed
    line by line (blames need only cover those).
    """
    detailed = {id(file) for file in detailed_files(files)}
    removed_by = trace_removals(history, _base_lines(f for f in files if id(f) in detailed))
    hunks: list[Hunk] = []
    for file in files:
        if id(file) not in detailed:
            hunks.append(_whole_file(file, history, agents_by_commit))
            continue
        blamed = blames.get(file.new_path or "", {})
        for raw in file.hunks:
            old_lines = range(raw.old_start, raw.old_start + raw.old_count)
            new_lines = range(raw.new_start, raw.new_start + raw.new_count)
            removed = [removed_by.get((file.old_path or "", n)) for n in old_lines]
            added = [blamed.get(n) for n in new_lines]
            hunks.append(_lines_hunk(file, raw, added, removed, agents_by_commit))
    return Attribution(
        hunks=hunks,
        totals_by_agent=_totals(hunks),
        total_added=sum(h.added for h in hunks),
        total_removed=sum(h.removed for h in hunks),
    )


def _base_lines(files: Iterable[FileDiff]) -> Iterator[tuple[str, int]]:
    """Every base line the diff removes, as (old path, line); gitlinks have none."""
    for file in files:
        if file.old_path is None or file.submodule:
            continue
        for hunk in file.hunks:
            for line in range(hunk.old_start, hunk.old_start + hunk.old_count):
                yield file.old_path, line


def _totals(hunks: Sequence[Hunk]) -> dict[str, LineCount]:
    totals: dict[str, LineCount] = {}
    for hunk in hunks:
        for agent in hunk.agents:  # an agent that only touched a binary file still gets a row
            totals.setdefault(agent, LineCount())
        for agent, count in hunk.lines_by_agent.items():
            total = totals.setdefault(agent, LineCount())
            total.added += count.added
            total.removed += count.removed
    return dict(sorted(totals.items(), key=lambda item: role_rank(item[0])))

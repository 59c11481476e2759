"""Pure parsers of git output: unified diffs (-U0), blame --line-porcelain, trailer logs, and
the index listings (`diff-index --raw -z`, `ls-files -s -z`, `cat-file --batch`) the commit
policy reads.

No I/O here; the commands that produce these texts live in git/history.py and git/staging.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.diff import FileDiff, RawHunk
from bot.core.plan import UNKNOWN_AGENT

AGENT_TRAILER = "Orchestrate-Agent"
# Which run, agent and round made a commit (core/decisions.task_key): a retry finds it by this.
TASK_TRAILER = "Orchestrate-Task"

# Separators chosen for `git log --format`: they cannot occur in a sha or a trailer value.
RECORD_SEP = "\x1e"
FIELD_SEP = "\x1f"

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def unquote_path(text: str) -> str:
    """Undo git's C-style quoting of a path ("a\\tb" with octal escapes for raw bytes)."""
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    body, out, i = text[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char != "\\" or i + 1 == len(body):
            out += char.encode("utf-8", "surrogateescape")
            i += 1
        elif body[i + 1] in _C_ESCAPES:
            out.append(_C_ESCAPES[body[i + 1]])
            i += 2
        else:
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
    return out.decode("utf-8", "surrogateescape")


def _strip_prefix(path: str, prefix: str) -> str | None:
    if path == "/dev/null":
        return None
    path = unquote_path(path.removesuffix("\t"))  # git adds a tab after names with spaces
    return path.removeprefix(prefix)


def _quoted_end(text: str) -> int:
    """Index of the quote closing the C-quoted string that starts text."""
    i = 1
    while text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i


def _header_paths(rest: str) -> tuple[str, str] | None:
    """Paths from `diff --git <rest>`; None when spaces make an unquoted pair ambiguous."""
    try:
        if rest.startswith('"'):
            end = _quoted_end(rest)
            old, new = rest[: end + 1], rest[end + 2 :]
        elif rest.endswith('"'):
            old, _, new = rest.partition(' "')
            new = '"' + new
        else:
            # Unquoted and not renamed: "a/X b/X", so X is half of what is left.
            half = (len(rest) - 5) // 2
            old, new = rest[: half + 2], rest[half + 3 :]
            if old[2:] != new[2:]:
                return None
    except IndexError:
        return None
    return unquote_path(old)[2:], unquote_path(new)[2:]


def parse_diff(text: str) -> list[FileDiff]:
    """Parse `git diff -U0` (or the patch part of `git log -p -U0`) into files and hunks."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    old_left = new_left = 0  # lines still expected in the current hunk
    for line in text.split("\n"):
        if old_left or new_left:
            # Inside a hunk the counts decide, so a removed line "-- a/x" is never a header.
            if line.startswith("-") and old_left:
                old_left -= 1
                continue
            if line.startswith("+") and new_left:
                new_left -= 1
                continue
            if line.startswith("\\"):
                continue
            old_left = new_left = 0
        if line.startswith("diff --git "):
            paths = _header_paths(line[len("diff --git ") :])
            current = FileDiff(*(paths or (None, None)))
            files.append(current)
        elif current is not None and line.startswith("@@ "):
            hunk = _hunk(line)
            if hunk is not None:
                current.hunks.append(hunk)
                old_left, new_left = hunk.old_count, hunk.new_count
        elif current is not None:
            _read_header(current, line)
    return files


def _hunk(line: str) -> RawHunk | None:
    match = _HUNK_HEADER.match(line)
    if match is None:
        return None
    old_start, old_count, new_start, new_count = match.groups()
    return RawHunk(
        old_start=int(old_start),
        old_count=1 if old_count is None else int(old_count),
        new_start=int(new_start),
        new_count=1 if new_count is None else int(new_count),
    )


def _read_header(current: FileDiff, line: str) -> None:
    """One line of a file's extended header (names, modes, binary) into `current`."""
    if line.startswith(("rename from ", "copy from ")):
        current.old_path = unquote_path(line.split(" ", 2)[2])
    elif line.startswith(("rename to ", "copy to ")):
        current.new_path = unquote_path(line.split(" ", 2)[2])
    elif line.startswith("--- "):
        current.old_path = _strip_prefix(line[4:], "a/")
    elif line.startswith("+++ "):
        current.new_path = _strip_prefix(line[4:], "b/")
    elif line.startswith("new file mode "):
        current.old_path = None
        current.submodule |= line.endswith(" 160000")
    elif line.startswith("deleted file mode "):
        current.new_path = None
        current.submodule |= line.endswith(" 160000")
    elif line.startswith(("old mode ", "new mode ")):
        current.mode_changed = True
        current.submodule |= line.endswith(" 160000")
    elif line.startswith("index ") and line.endswith(" 160000"):
        current.submodule = True
    elif line.startswith("Binary files ") or line == "GIT binary patch":
        current.binary = True


def parse_blame_porcelain(text: str) -> dict[int, str]:
    """Map each final line number to the sha of the commit that last changed it."""
    lines: dict[int, str] = {}
    for line in text.split("\n"):
        if not line or line.startswith("\t"):
            continue
        fields = line.split(" ")
        if len(fields) >= 3 and _SHA.match(fields[0]) and fields[2].isdigit():
            lines[int(fields[2])] = fields[0]
    return lines


def parse_agent_log(text: str) -> dict[str, str]:
    """Map sha → agent role from `log_with_trailers` output, in the log's (oldest-first) order.

    A commit without the trailer is UNKNOWN_AGENT; with several (which commit_all prevents),
    the last one wins, as git's own trailer handling does for a single-valued key.
    """
    agents: dict[str, str] = {}
    for record in text.split(RECORD_SEP):
        sha, _, trailers = record.strip("\n").partition(FIELD_SEP)
        if not _SHA.match(sha):
            continue
        values = [v.strip() for v in trailers.split(",") if v.strip()]
        agents[sha] = values[-1] if values else UNKNOWN_AGENT
    return agents


@dataclass(frozen=True)
class TaskCommit:
    sha: str
    tasks: tuple[str, ...]  # its Orchestrate-Task trailer values
    subject: str
    body: str = ""


def parse_task_log(text: str) -> list[TaskCommit]:
    """`history.find_task_commit` output (records of sha, trailer values, subject, body),
    newest first."""
    found: list[TaskCommit] = []
    for record in text.split(RECORD_SEP):
        sha, _, rest = record.strip("\n").partition(FIELD_SEP)
        trailers, _, rest = rest.partition(FIELD_SEP)
        subject, _, body = rest.partition(FIELD_SEP)
        if _SHA.match(sha):
            values = tuple(v.strip() for v in trailers.split(",") if v.strip())
            found.append(TaskCommit(sha, values, subject, body))
    return found


def parse_commit_patches(text: str) -> list[tuple[str, list[FileDiff]]]:
    """Split `commit_patches` output (records of sha + -U0 patch) into per-commit diffs."""
    commits: list[tuple[str, list[FileDiff]]] = []
    for record in text.split(RECORD_SEP):
        sha, _, patch = record.partition("\n")
        if _SHA.match(sha.strip()):
            commits.append((sha.strip(), parse_diff(patch)))
    return commits


def parse_numstat(text: str) -> list[tuple[int | None, int | None, str]]:
    """`git diff --numstat` lines as (added, removed, path); None counts for binary files."""
    rows: list[tuple[int | None, int | None, str]] = []
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            added, removed, path = parts
            rows.append(
                (
                    None if added == "-" else int(added),
                    None if removed == "-" else int(removed),
                    path,
                )
            )
    return rows


@dataclass(frozen=True)
class IndexChange:
    """One record of `git diff-index --cached --raw -z --no-renames HEAD`."""

    old_mode: str
    new_mode: str
    old_sha: str
    new_sha: str
    status: str
    path: str


def parse_raw_diff_z(text: str) -> list[IndexChange]:
    """`:old_mode new_mode old_sha new_sha status NUL path NUL` records (no renames)."""
    changes: list[IndexChange] = []
    fields = text.split("\0")
    for header, path in zip(fields[::2], fields[1::2], strict=False):
        parts = header.lstrip(":").split(" ")
        if len(parts) == 5 and path:
            old_mode, new_mode, old_sha, new_sha, status = parts
            changes.append(IndexChange(old_mode, new_mode, old_sha, new_sha, status[:1], path))
    return changes


def parse_ls_files_stage_z(text: str) -> list[tuple[str, str, str]]:
    """`git ls-files -s -z` as (mode, sha, path); stage numbers dropped."""
    entries: list[tuple[str, str, str]] = []
    for record in text.split("\0"):
        info, tab, path = record.partition("\t")
        parts = info.split(" ")
        if tab and len(parts) == 3:
            entries.append((parts[0], parts[1], path))
    return entries


def parse_batch_check(text: str) -> dict[str, tuple[str, int]]:
    """`git cat-file --batch-check` lines as sha → (type, size); missing objects left out."""
    found: dict[str, tuple[str, int]] = {}
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[2].isdigit():
            found[parts[0]] = (parts[1], int(parts[2]))
    return found


def parse_batch(data: bytes) -> dict[str, bytes]:
    """`git cat-file --batch` output (raw bytes) as sha → content."""
    found: dict[str, bytes] = {}
    at = 0
    while at < len(data):
        end = data.find(b"\n", at)
        if end == -1:
            break
        parts = data[at:end].split(b" ")
        if len(parts) != 3 or not parts[2].isdigit():  # "<sha> missing"
            at = end + 1
            continue
        size = int(parts[2])
        found[parts[0].decode("ascii")] = data[end + 1 : end + 1 + size]
        at = end + 1 + size + 1  # the content is followed by a newline
    return found

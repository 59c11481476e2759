"""Commit messages and titles built by the app from untrusted text, linking nothing on GitHub.

GitHub reads commit messages (and a pull request's title, which a squash merge makes the
commit subject) for mentions (`@user`), references (`#1`, `GH-1`, `owner/repo#1`,
`owner/repo@sha`), URLs (`scheme://`, `www.`: an issue URL of any repository is a reference)
and e-mail addresses; a closing keyword followed by a reference closes that issue when the
commit lands on a default branch. So model text enters a commit only through `summary`: NFKC
first (look-alikes become ASCII), invisible characters dropped, then every character that is
not a letter, a digit, a combining mark, a space or one of `.,:;'"()-_+=!?%` becomes a space.
With no `@`, `#`, `/`, `<`, `>` or backtick left, only two anchors could remain, `www.` and
`GH-<digits>`, and both are broken. Nothing reference-like is left for a closing keyword.

The body is the app's text; file names in it are escaped byte-exactly (`\\xNN`), one per
line after `- `, so none can add a line, look like a trailer (`Co-authored-by: ...`) or link.
The app's sentence ends the message: the agent trailer `git commit --trailer` adds goes into a
paragraph of its own (and `Worktree.commit_all` strips forged ones).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot.render.markdown import shorten

SUBJECT_CHARS = 72  # what `git log --oneline` and GitHub show before cutting
TITLE_CHARS = 120
MAX_PATH_CHARS = 200
MAX_PATHS = 20

_PUNCTUATION = frozenset(" .,:;'\"()-_+=!?%")
_WWW = re.compile(r"(?i)(www)\.")
_GH_REFERENCE = re.compile(r"(?i)(gh)-(?=\d)")
_PATH_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/+=,- ")
_PATH_ANCHORS = re.compile(r"(?i)(?<=www)\.|(?<=gh)-(?=\d)")
_STOPPED = "The agent stopped early"
_STOPPED_LINE = re.compile(rf"^{_STOPPED} \((.*)\)\.$", re.MULTILINE)


def _kept(char: str) -> bool:
    return char.isalnum() or char in _PUNCTUATION or unicodedata.category(char)[0] == "M"


def summary(text: str, limit: int = SUBJECT_CHARS) -> str:
    """The first non-blank line of `text` reduced to plain words (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in {"Cf", "Cs", "Co", "Cn"})
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = "".join(ch if _kept(ch) else " " for ch in line)
    line = _GH_REFERENCE.sub(r"\1 ", _WWW.sub(r"\1 ", line))
    return shorten(" ".join(line.split()), limit)


def subject(role: str, text: str) -> str:
    """`<role>: <summary of text>`, at most SUBJECT_CHARS long."""
    name = summary(role, 20) or "agent"
    return shorten(f"{name}: {summary(text) or 'changes'}", SUBJECT_CHARS)


def title(*candidates: str) -> str:
    """The first candidate with words left, as a pull request title; "orchestrate run" else."""
    return next((t for t in (summary(c, TITLE_CHARS) for c in candidates) if t), "orchestrate run")


def path(name: str) -> str:
    """A file name on one line, shown byte-exactly: anything outside `[A-Za-z0-9._/+=, -]`, and
    the `.` of `www.` and the `-` of `GH-1`, as a `\\xNN`/`\\uNNNN`/`\\UNNNNNNNN` escape."""
    name = shorten(name, MAX_PATH_CHARS)
    anchors = {m.start() for m in _PATH_ANCHORS.finditer(name)}
    return "".join(
        char if char in _PATH_SAFE and index not in anchors else _escape(char)
        for index, char in enumerate(name)
    )


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def message(
    *,
    role: str,
    round_number: int,
    text: str,
    stopped: str | None = None,
    refused: Sequence[tuple[str, str]] = (),
) -> str:
    """The commit message of one agent's turn: subject from `text` (the agent's summary), why
    it stopped when it did not finish, the files refused (path, app-written reason), and the
    app's sentence."""
    parts = [subject(role, text)]
    if stopped is not None:
        parts.append(f"{_STOPPED} ({summary(stopped, 200) or 'no reason given'}).")
    if refused:
        lines = [f"- {path(name)} ({summary(why, 80)})" for name, why in refused[:MAX_PATHS]]
        if len(refused) > MAX_PATHS:
            lines.append(f"- and {len(refused) - MAX_PATHS} more")
        parts.append("Not committed, refused by the write policy:\n" + "\n".join(lines))
    parts.append(f"Round {round_number} of the orchestrated run.")
    return "\n\n".join(parts) + "\n"


def stopped_reason(body: str) -> str | None:
    """Why the agent stopped early, read back from the body of a message built by `message`
    (None when it finished). Only the subject holds model text, so the body is the app's."""
    found = _STOPPED_LINE.search(body)
    return found.group(1) if found else None

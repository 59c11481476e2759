"""Parse `/orchestrate …` out of a comment body into a typed command. Pure: no I/O."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from pydantic import BaseModel

from bot.core.markdown_lines import LineStart, RenderedComment, render

MAX_TASK_CHARS = 8000
# GitHub refuses longer comment bodies: a longer one did not come from GitHub.
MAX_BODY_CHARS = 65536
COMMAND_WORD = "/orchestrate"
# Sub-commands by their words (a run of whitespace between two words counts as one space).
_SUBCOMMANDS = {
    "help": "help",
    "approve": "approve",
    "cancel": "cancel",
    "cancel all": "cancel_all",
}


class CommandKind(StrEnum):
    HELP = "help"
    APPROVE = "approve"
    CANCEL = "cancel"
    CANCEL_ALL = "cancel_all"
    RUN = "run"
    TOO_LONG = "too_long"


class Command(BaseModel, frozen=True):
    """What a comment asks for. A RUN with an empty task means "the issue is the task"."""

    kind: CommandKind
    task: str = ""
    task_chars: int = 0

    @property
    def uses_issue_as_task(self) -> bool:
        return self.kind is CommandKind.RUN and not self.task


def parse_command(body: str) -> Command | None:
    """The command in a comment body, or None when it has none.

    The command is the first line, as GitHub renders the comment, that starts with the exact
    ASCII word `/orchestrate` (any ASCII case) followed by whitespace or the end of the line; see
    `bot.markdown_lines` for which lines count. A sub-command must stand alone on that line;
    anything else is the task, which continues over the rest of the comment, without the text
    no reader sees (HTML comments, link reference definitions).
    """
    if len(body) > MAX_BODY_CHARS or COMMAND_WORD not in body.lower():
        return None  # cheap answer for most comments: parsing Markdown costs up to ~1 s
    rendered = render(unicodedata.normalize("NFC", body))
    for line in rendered.lines:
        rest = _after_command_word(line)
        if rest is not None:
            return _command(rendered, line, rest)
    return None


def _after_command_word(line: LineStart) -> str | None:
    """What the line shows after the command word, or None when it does not start with it."""
    word = line.lead[: len(COMMAND_WORD)]
    # ASCII-only folding: re.IGNORECASE or str.casefold would let `/orcheſtrate` (long s) match.
    if not (word.isascii() and word.lower() == COMMAND_WORD):
        return None
    rest = line.text[len(COMMAND_WORD) :]
    return rest if not rest or rest[0].isspace() else None


def _command(rendered: RenderedComment, line: LineStart, rest: str) -> Command:
    words = rest.strip().rstrip(".!")
    if words.isascii():
        kind = _SUBCOMMANDS.get(" ".join(words.lower().split()))
        if kind is not None:
            return Command(kind=CommandKind(kind))
    first, newline, after = rendered.visible_from(line.offset + len(COMMAND_WORD)).partition("\n")
    task = (first.strip() + newline + after).strip()
    if len(task) > MAX_TASK_CHARS:
        return Command(kind=CommandKind.TOO_LONG, task_chars=len(task))
    return Command(kind=CommandKind.RUN, task=task, task_chars=len(task))

"""Parse `/orchestrate …` out of a comment body into a typed command. Pure: no I/O."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel

MAX_TASK_CHARS = 8000
_TRIGGER = re.compile(r"^ {0,3}/orchestrate(?=\s|$)(?P<rest>.*)$", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_QUOTE = re.compile(r"^ {0,3}>")
_SUBCOMMANDS = {"help", "approve", "cancel"}


class CommandKind(StrEnum):
    HELP = "help"
    APPROVE = "approve"
    CANCEL = "cancel"
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


def _command_lines(body: str) -> list[tuple[int, str]]:
    """Lines of `body` outside fenced code, block quotes and HTML comments, with their index."""
    kept: list[tuple[int, str]] = []
    fence: str | None = None
    in_html_comment = False
    for index, line in enumerate(body.splitlines()):
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                fence = None
            continue
        if in_html_comment:
            in_html_comment = "-->" not in line
            continue
        if opening := _FENCE.match(line):
            fence = opening["fence"]
            continue
        if line.lstrip().startswith("<!--"):
            in_html_comment = "-->" not in line
            continue
        if _QUOTE.match(line):
            continue
        kept.append((index, line))
    return kept


def parse_command(body: str) -> Command | None:
    """The command in a comment body, or None when it has none.

    The first line starting with `/orchestrate` (any case) outside code fences, quotes and HTML
    comments is the command. A sub-command must stand alone on that line; anything else is the
    task, which continues over the following lines of the comment.
    """
    lines = body.splitlines()
    for index, line in _command_lines(body):
        match = _TRIGGER.match(line)
        if match is None:
            continue
        first = match["rest"].strip()
        if first.lower().rstrip(".!") in _SUBCOMMANDS:
            return Command(kind=CommandKind(first.lower().rstrip(".!")))
        task = "\n".join([first, *lines[index + 1 :]]).strip()
        if len(task) > MAX_TASK_CHARS:
            return Command(kind=CommandKind.TOO_LONG, task_chars=len(task))
        return Command(kind=CommandKind.RUN, task=task, task_chars=len(task))
    return None

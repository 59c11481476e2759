"""Command parsing: which line is the command, what is the task, what is refused."""

from __future__ import annotations

import pytest

from bot.commands import MAX_TASK_CHARS, Command, CommandKind, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/orchestrate help", Command(kind=CommandKind.HELP)),
        ("/ORCHESTRATE Help", Command(kind=CommandKind.HELP)),
        ("/orchestrate approve", Command(kind=CommandKind.APPROVE)),
        ("/orchestrate cancel", Command(kind=CommandKind.CANCEL)),
        ("/orchestrate cancel!", Command(kind=CommandKind.CANCEL)),
        ("please\n/orchestrate cancel\nthanks", Command(kind=CommandKind.CANCEL)),
        ("/orchestrate", Command(kind=CommandKind.RUN, task="", task_chars=0)),
        ("/orchestrate   ", Command(kind=CommandKind.RUN, task="", task_chars=0)),
        (
            "/orchestrate add a --verbose flag",
            Command(kind=CommandKind.RUN, task="add a --verbose flag", task_chars=20),
        ),
        (
            "/orchestrate help me add a flag",
            Command(kind=CommandKind.RUN, task="help me add a flag", task_chars=18),
        ),
        (
            "intro\n  /orchestrate fix it\nmore detail",
            Command(kind=CommandKind.RUN, task="fix it\nmore detail", task_chars=18),
        ),
    ],
)
def test_parses_commands(body: str, expected: Command) -> None:
    """Each body yields exactly the command in the table."""
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "just a comment",
        "/orchestrated is not the command",
        "please /orchestrate help",  # not at the start of a line
        "    /orchestrate help",  # indented code block
        "> /orchestrate help",  # a quote of someone else's command
        "```\n/orchestrate help\n```",
        "~~~~\n/orchestrate help\n~~~~",
        "<!--\n/orchestrate help\n-->",
        "<!-- /orchestrate help -->",
    ],
)
def test_ignores_bodies_without_a_command(body: str) -> None:
    """Quotes, code, HTML comments and mid-line mentions are not commands."""
    assert parse_command(body) is None


def test_command_after_a_closed_fence_is_found() -> None:
    """A fence closes on a fence of the same kind, and the next line counts again."""
    body = "```sh\n/orchestrate cancel\n```\n/orchestrate approve"
    assert parse_command(body) == Command(kind=CommandKind.APPROVE)


def test_shorter_fence_does_not_close_a_longer_one() -> None:
    """A ``` line inside a ```` block is content, not the end of the block."""
    body = "````\n```\n/orchestrate cancel\n````\n/orchestrate help"
    assert parse_command(body) == Command(kind=CommandKind.HELP)


def test_first_command_wins() -> None:
    """Only the first command line counts; later lines belong to its task."""
    command = parse_command("/orchestrate do X\n/orchestrate cancel")
    assert command == Command(kind=CommandKind.RUN, task="do X\n/orchestrate cancel", task_chars=24)


def test_task_at_the_limit_is_accepted_and_over_it_refused() -> None:
    """8,000 characters is a task; 8,001 is refused with its length."""
    at_limit = parse_command("/orchestrate " + "x" * MAX_TASK_CHARS)
    over = parse_command("/orchestrate " + "x" * (MAX_TASK_CHARS + 1))
    assert at_limit is not None and at_limit.kind is CommandKind.RUN
    assert over == Command(kind=CommandKind.TOO_LONG, task_chars=MAX_TASK_CHARS + 1)


def test_bare_command_uses_the_issue() -> None:
    """`/orchestrate` alone means the issue's title and body are the task."""
    command = parse_command("/orchestrate")
    assert command is not None and command.uses_issue_as_task

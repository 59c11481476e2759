"""A small Python project for end-to-end runs, and scripted agents that change it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.core.plan import PLAN_TOOL_NAME
from tests.fakes import Script, ToolCall, Turn

EDITOR = "str_replace_based_edit_tool"

CLI_PY = '''\
"""A tiny command-line tool."""

import sys


def main(argv: list[str]) -> int:
    print("hello")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
'''

TEST_CLI_PY = """\
from cli import main


def test_hello(capsys):
    assert main([]) == 0
    assert capsys.readouterr().out == "hello\\n"
"""

README_MD = """\
# tiny

A tiny command-line tool.

## Usage

    python cli.py
"""

# Its tests need pytest: the environment phase installs it (from the local index in tests).
REQUIREMENTS_DEV = "pytest\n"
PROJECT_FILES = {
    "cli.py": CLI_PY,
    "tests/test_cli.py": TEST_CLI_PY,
    "README.md": README_MD,
    "requirements-dev.txt": REQUIREMENTS_DEV,
}
TEST_COMMAND = "python -m pytest -q -p no:cacheprovider"


def plan_input(
    roles: tuple[str, ...] = ("implement", "test", "docs"), reason: str = ""
) -> dict[str, Any]:
    subtasks = {
        "implement": {
            "role": "implement",
            "goal": "Add a --verbose flag to main() in cli.py that prints 'verbose mode' first.",
            "acceptance": ["main(['--verbose']) prints 'verbose mode' then 'hello'"],
            "files": ["cli.py"],
        },
        "test": {
            "role": "test",
            "goal": "Test the --verbose flag.",
            "acceptance": ["tests/test_verbose.py covers --verbose"],
            "files": ["tests/test_verbose.py"],
        },
        "docs": {
            "role": "docs",
            "goal": "Document --verbose in README.md.",
            "acceptance": ["README.md shows the flag"],
            "files": ["README.md"],
        },
    }
    return {
        "summary": "Add a --verbose flag to the CLI.",
        "contract": {
            "files": ["cli.py", "tests/test_verbose.py", "README.md"],
            "interfaces": [
                {
                    "name": "--verbose",
                    "file": "cli.py",
                    "signature": "main(argv: list[str]) -> int",
                    "behaviour": "with --verbose, print 'verbose mode' before 'hello'",
                }
            ],
            "behaviours": ["without the flag the output is unchanged"],
        },
        "subtasks": [subtasks[role] for role in roles],
        "test_command": TEST_COMMAND,
        "fewer_agents_reason": reason,
    }


def plan_turn(roles: tuple[str, ...] = ("implement", "test", "docs"), reason: str = "") -> Turn:
    return Turn(tool_calls=[ToolCall(PLAN_TOOL_NAME, plan_input(roles, reason))])


def edit(path: str, old: str, new: str) -> ToolCall:
    return ToolCall(
        EDITOR, {"command": "str_replace", "path": path, "old_str": old, "new_str": new}
    )


def create(path: str, text: str) -> ToolCall:
    return ToolCall(EDITOR, {"command": "create", "path": path, "file_text": text})


def remember(key: str, value: str) -> ToolCall:
    return ToolCall("memory", {"action": "write", "key": key, "value": value, "mode": "set"})


BUGGY_VERBOSE = """    if "--verbose" in argv:
        print("verbose")
    print("hello")"""
FIXED_VERBOSE = """    if "--verbose" in argv:
        print("verbose mode")
    print("hello")"""

TEST_VERBOSE_PY = """\
from cli import main


def test_verbose(capsys):
    assert main(["--verbose"]) == 0
    assert capsys.readouterr().out == "verbose mode\\nhello\\n"
"""


def verbose_scripts(
    turns_each: int = 2, latency: float | None = None, *, meet_first: bool = False
) -> dict[str, Script]:
    """The three agents of the --verbose task; the implementer's first try is wrong, its fix
    round (round 2) corrects it. `turns_each` pads each agent to that many model turns;
    `meet_first` holds each agent's first answer until all three first requests are in."""

    def padded(work: list[Turn], final: str) -> list[Turn | Any]:
        pads = [
            Turn(tool_calls=[ToolCall("search", {"pattern": "def main"})], latency=latency)
            for _ in range(max(0, turns_each - len(work) - 1))
        ]
        return [*work, *pads, Turn(text=final, latency=latency)]

    implement = padded(
        [
            Turn(
                tool_calls=[
                    edit("cli.py", '    print("hello")', BUGGY_VERBOSE),
                    remember("verbose-output", "prints 'verbose mode' then 'hello'"),
                ],
                latency=latency,
            )
        ],
        "Added --verbose to cli.py.",
    )
    fix = [
        Turn(
            tool_calls=[edit("cli.py", 'print("verbose")', 'print("verbose mode")')],
            latency=latency,
        ),
        Turn(text="Fixed the verbose message.", latency=latency),
    ]
    test = padded(
        [Turn(tool_calls=[create("tests/test_verbose.py", TEST_VERBOSE_PY)], latency=latency)],
        "Added tests/test_verbose.py.",
    )
    docs = padded(
        [
            Turn(
                tool_calls=[
                    edit(
                        "README.md",
                        "    python cli.py\n",
                        "    python cli.py\n    python cli.py --verbose   # print 'verbose mode' first\n",
                    )
                ],
                latency=latency,
            )
        ],
        "Documented --verbose.",
    )
    if meet_first:
        for script in (implement, test, docs):
            first = script[0]
            assert isinstance(first, Turn)
            first.barrier, first.parties = "first turns", 3
    return {"implement": [*implement, *fix], "test": test, "docs": docs}


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a recorded request's last user message."""
    last = request["messages"][-1]
    content = last["content"] if isinstance(last["content"], list) else []
    return [block for block in content if block.get("type") == "tool_result"]


def text_of(request: dict[str, Any]) -> str:
    return json.dumps(request)


def edit_then_finish(path: str, old: str, new: str) -> Callable[[dict[str, Any]], Turn]:
    """One scripted turn for any number of concurrent conversations: the edit when the
    conversation has no tool result yet, else the closing text (turns cannot cross runs)."""

    def turn(request: dict[str, Any]) -> Turn:
        if tool_results(request):
            return Turn(text="Done.")
        return Turn(tool_calls=[edit(path, old, new)])

    return turn

"""The scripted model of `python -m bench orchestrate`: one plan turn, and three agents of equal
length that make real small edits (so the PR has an attribution table) and get the tests right
in round 1 (so there is exactly one test round and no fix round)."""

from __future__ import annotations

from tests.fakes import Script, ToolCall, Turn
from tests.support.project import (
    EDITOR,
    FIXED_VERBOSE,
    TEST_VERBOSE_PY,
    create,
    edit,
    plan_turn,
    remember,
)

ROLES = ("implement", "test", "docs")
MIN_TURNS = 4

QUIET_TEST = """

def test_quiet_by_default(capsys):
    assert main([]) == 0
    assert "verbose" not in capsys.readouterr().out
"""
USAGE = "    python cli.py\n"
USAGE_VERBOSE = USAGE + "    python cli.py --verbose   # print 'verbose mode' first\n"
VERBOSE_ASSERT = '"verbose mode\\nhello\\n"\n'

SUMMARIES = {
    "implement": "Added --verbose to cli.py.",
    "test": "Added tests/test_verbose.py.",
    "docs": "Documented --verbose.",
}


def _view(path: str) -> ToolCall:
    return ToolCall(EDITOR, {"command": "view", "path": path})


def _search(pattern: str) -> ToolCall:
    return ToolCall("search", {"pattern": pattern})


def _read_memory() -> ToolCall:
    return ToolCall("memory", {"action": "read"})


def _work() -> dict[str, list[list[ToolCall]]]:
    """Each agent's tool calls, one list per turn, before its final summary turn."""
    return {
        "implement": [
            [_view("cli.py")],
            [_search("def main")],
            [edit("cli.py", '    print("hello")', FIXED_VERBOSE)],
            [_view("cli.py")],
            [remember("verbose-output", "prints 'verbose mode' then 'hello'")],
            [_search("verbose")],
            [_view("tests/test_cli.py")],
        ],
        "test": [
            [_view("tests/test_cli.py")],
            [_search("def main")],
            [create("tests/test_verbose.py", TEST_VERBOSE_PY)],
            [_view("tests/test_verbose.py")],
            [edit("tests/test_verbose.py", VERBOSE_ASSERT, VERBOSE_ASSERT + QUIET_TEST)],
            [_read_memory()],
            [_search("verbose")],
        ],
        "docs": [
            [_view("README.md")],
            [_search("Usage")],
            [edit("README.md", USAGE, USAGE_VERBOSE)],
            [_view("README.md")],
            [edit("README.md", "A tiny command-line tool.", "A tiny tool; see --verbose.")],
            [_read_memory()],
            [_search("verbose")],
        ],
    }


def _changes(step: list[ToolCall]) -> bool:
    """Whether a turn edits a file or writes memory (kept when a script is cut short)."""
    for call in step:
        if call.name == EDITOR and call.input.get("command") != "view":
            return True
        if call.name == "memory" and call.input.get("action") == "write":
            return True
    return False


def agent_scripts(turns: int, latency: float) -> dict[str, Script]:
    """Every agent's script: exactly `turns` model turns of `latency` seconds each (the work
    above, cut to its changing turns or padded with searches, then a final text turn)."""
    if turns < MIN_TURNS:
        raise ValueError(f"an agent needs at least {MIN_TURNS} turns to make its edits and stop")
    scripts: dict[str, Script] = {}
    for role, work in _work().items():
        while len(work) > turns - 1:
            work.remove(next(step for step in reversed(work) if not _changes(step)))
        work += [[_search("main")] for _ in range(turns - 1 - len(work))]
        calls = [Turn(tool_calls=step, latency=latency) for step in work]
        scripts[role] = [*calls, Turn(text=SUMMARIES[role], latency=latency)]
    return scripts


def plan_script(latency: float) -> Script:
    turn = plan_turn(ROLES)
    turn.latency = latency
    return [turn]

"""What the render tests share: a plan, a PR body with every section, and ways to read them."""

from __future__ import annotations

import re

from bot.core.attribution import Attribution, Hunk, LineCount
from bot.core.memory import Memory, Note
from bot.core.plan import Contract, Interface, Plan, Role, SubTask
from bot.core.pricing import PriceTable
from bot.core.results import AgentResult, AgentStatus, Span
from bot.core.results import TestRound as Round
from bot.core.usage import Usage
from bot.render.attribution import render_table
from bot.render.plan_comment import plan_comment
from bot.render.pr_body import pr_body

SONNET = "claude-sonnet-4-6"
# Mentions that would ping someone: `@` followed by a login character, with no zero-width space.
PING = re.compile(r"@(?!\u200b)[A-Za-z0-9]")


def make_plan(roles: tuple[Role, ...] = tuple(Role), reason: str = "", **extra: str) -> Plan:
    return Plan(
        summary=extra.get("summary", "Add a `--json` flag to the report command."),
        contract=Contract(
            files=["cli.py", "docs/usage.md"],
            interfaces=[
                Interface(
                    name="main",
                    file="cli.py",
                    signature="def main(argv: list[str] | None = None) -> int",
                    behaviour=extra.get("behaviour", "prints JSON when --json is given"),
                )
            ],
            behaviours=["exit code 0 on success"],
        ),
        subtasks=[
            SubTask(
                role=role, goal=extra.get("goal", f"do the {role.value} part"), acceptance=["ok"]
            )
            for role in roles
        ],
        test_command="pytest -q",
        fewer_agents_reason=reason,
    )


def columns(row: str) -> int:
    """Cells of a GFM table row: split on pipes that are not escaped."""
    return len(re.split(r"(?<!\\)\|", row.strip())) - 2


def section_lines(text: str, heading: str) -> list[str]:
    """The lines after `heading` up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def fence_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(opening fence line, content lines) of every fenced block, parsed like CommonMark: a
    block ends at a line of at least as many backticks as it opened with and nothing else."""
    blocks: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(`{3,})", lines[i])
        if not opening:
            i += 1
            continue
        fence = opening.group(1)
        end = next(
            j for j in range(i + 1, len(lines)) if re.fullmatch(rf"`{{{len(fence)},}}\s*", lines[j])
        )
        blocks.append((lines[i], lines[i + 1 : end]))
        i = end + 1
    return blocks


def comment(plan: Plan, **kwargs: object) -> str:
    args: dict[str, object] = {"task_title": "Add --json", "states": {}, "run_state": "running"}
    args.update(kwargs)
    return plan_comment(plan, **args)  # type: ignore[arg-type]


def hunk(path: str, agent: str, line: int = 1) -> Hunk:
    return Hunk(
        path=path,
        old_path=path,
        status="modified",
        new_start=line,
        new_count=1,
        old_start=line,
        old_count=1,
        added=1,
        removed=1,
        agents=[agent],
        commits=["a" * 40],
        lines_by_agent={agent: LineCount(added=1, removed=1)},
    )


def attribution(paths: list[str]) -> Attribution:
    return Attribution(
        hunks=[hunk(path, "implement", i + 1) for i, path in enumerate(paths)],
        totals_by_agent={"implement": LineCount(added=len(paths), removed=len(paths))},
        total_added=len(paths),
        total_removed=len(paths),
    )


def result(role: str, model: str = SONNET, **usage: int) -> AgentResult:
    return AgentResult(
        role=role, status=AgentStatus.DONE, model=model, turns=4, usage=Usage(**usage)
    )


def body(**overrides: object) -> str:
    memory = Memory()
    memory.notes = [Note(agent="implement", key="api", value="main() takes argv", version=1, at="")]
    args: dict[str, object] = {
        "plan": make_plan(),
        "issue_number": 7,
        "attribution_table": render_table(attribution(["cli.py"])),
        "rounds": [Round(round=1, command="pytest -q", passed=True, exit_code=0)],
        "agents": [result("implement", input_tokens=1000)],
        "orchestrator": Usage(input_tokens=100),
        "orchestrator_model": SONNET,
        "prices": PriceTable.default(),
        "spans": [
            Span(
                label="plan",
                section="plan",
                start="2025-01-02T03:04:05+00:00",
                end="2025-01-02T03:04:09+00:00",
            )
        ],
        "memory": memory,
        "draft_reason": None,
    }
    args.update(overrides)
    return pr_body(**args)  # type: ignore[arg-type]

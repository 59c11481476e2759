"""The plan comment: one comment per run, edited in place as the run moves.

Summary, interface contract, a mermaid diagram of the fan-out and a checklist with one line per
agent of the plan, one for the test rounds and one for the pull request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.plan import Contract, Plan, Role
from bot.core.results import AgentLine, AgentStatus, TestRound
from bot.render.markdown import (
    Section,
    app_url,
    block,
    code_span,
    details,
    fit,
    inline,
    keep_head,
    mermaid_label,
    shorten,
    table,
    tokens,
)

PLAN_MARKER = "<!-- orchestrate:plan -->"
ALL_ROLES = len(Role)
_ITEM_CHARS = 300  # one contract item or acceptance criterion as shown


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def render_contract(contract: Contract) -> str:
    parts = ["#### Interface contract"]
    if contract.files:
        parts.append(
            "**Files:** " + ", ".join(code_span(path, cell=False) for path in contract.files)
        )
    if contract.interfaces:
        rows = [
            [
                inline(item.name, 120),
                code_span(item.file),
                code_span(item.signature) if item.signature else "",
                inline(item.behaviour, _ITEM_CHARS),
            ]
            for item in contract.interfaces
        ]
        parts.append(table(["Name", "File", "Signature", "Behaviour"], rows))
    if contract.behaviours:
        listed = "\n".join(f"- {inline(b, _ITEM_CHARS)}" for b in contract.behaviours)
        parts.append("**Behaviours**\n\n" + listed)
    if len(parts) == 1:
        parts.append("_No shared files or interfaces._")
    return "\n\n".join(parts)


def render_fan_out(plan: Plan) -> str:
    """`plan → each agent of the plan → reconcile → PR`, labels quoted and sanitised."""
    lines = ["```mermaid", "flowchart LR", '    plan(["plan"])']
    for role in plan.roles:
        subtask = plan.subtask(role)
        goal = subtask.goal if subtask else ""
        label = mermaid_label(f"{role.value} - {goal}" if goal else role.value)
        lines.append(f'    plan --> {role.value}["{label}"]')
        lines.append(f"    {role.value} --> reconcile")
    lines += ['    reconcile(["reconcile + tests"]) --> pr(["pull request"])', "```"]
    return "\n".join(lines)


def _agent_line(role: Role, line: AgentLine) -> str:
    box = "x" if line.status is AgentStatus.DONE else " "
    facts = [line.status.value]
    if line.turns:
        facts.append(_plural(line.turns, "turn"))
    if line.tokens:
        facts.append(f"{tokens(line.tokens)} tokens")
    return f"- [{box}] **{role.value}**: {' · '.join(facts)}"


def _round_text(test: TestRound) -> str:
    if test.passed:
        return f"round {test.round} passed"
    why = "timed out" if test.timed_out else f"failed (exit {test.exit_code})"
    sent = f" → {inline(test.sent_to, 40)}" if test.sent_to else ""
    return f"round {test.round} {why}{sent}"


def render_checklist(
    plan: Plan,
    states: Mapping[str, AgentLine],
    rounds: Sequence[TestRound],
    pr_url: str | None,
    environment: str = "",
) -> str:
    """`environment`: the environment's line (render/environment.py), first when given."""
    lines = ["#### Progress", *([environment] if environment else [])]
    lines += [_agent_line(role, states.get(role.value, AgentLine())) for role in plan.roles]
    if rounds:
        box = "x" if rounds[-1].passed else " "
        lines.append(f"- [{box}] **tests**: " + "; ".join(_round_text(r) for r in rounds))
    else:
        lines.append("- [ ] **tests**: not run yet")
    if pr_url:
        lines.append(f"- [x] **pull request**: {app_url(pr_url)}")
    else:
        lines.append("- [ ] **pull request**")
    return "\n".join(lines)


def render_subtasks(plan: Plan) -> str:
    parts = []
    for role in plan.roles:
        subtask = plan.subtask(role)
        if subtask is None:
            continue
        criteria = "\n".join(f"  - {inline(c, _ITEM_CHARS)}" for c in subtask.acceptance)
        files = ", ".join(code_span(path, cell=False) for path in subtask.files)
        text = f"- **{role.value}**: {inline(subtask.goal, 1000)}"
        parts.append(text + (f"\n  Files: {files}" if files else "") + f"\n{criteria}")
    return details("Sub-tasks and acceptance criteria", "\n".join(parts))


def plan_comment(
    plan: Plan,
    *,
    task_title: str,
    states: Mapping[str, AgentLine],
    run_state: str,
    pr_url: str | None = None,
    note: str = "",
    rounds: Sequence[TestRound] = (),
    environment: str = "",
) -> str:
    """The run's one status comment. `note` is the app's own text (not escaped), and so is
    `environment` (the checklist's environment line, already rendered)."""
    head = [PLAN_MARKER, f"**orchestrate** · {inline(run_state, 300)}"]
    if run_state.startswith("waiting for approval"):
        head.append("Write `/orchestrate approve` to start the agents, or `/orchestrate cancel`.")
    if note:
        head.append(note)
    title = inline(task_title, 200) or "(untitled)"
    fewer = ""
    if len(plan.roles) < ALL_ROLES:
        reason = inline(plan.fewer_agents_reason, 1000) or "no reason given"
        fewer = f"_Fewer than {ALL_ROLES} agents ({len(plan.roles)}):_ {reason}"
    contract = render_contract(plan.contract)
    subtasks = render_subtasks(plan)
    sections = [
        Section("\n".join(head)),
        Section(f"### Plan: {title}\n\n{block(plan.summary, 2000)}"),
        Section(contract, lambda n: keep_head(contract, n, "the contract"), cut_order=1),
        Section(render_fan_out(plan)),
        Section(fewer),
        Section(render_checklist(plan, states, rounds, pr_url, environment)),
        Section(subtasks, lambda n: shorten("_(sub-tasks not shown: size limit)_", n)),
    ]
    return fit(sections) + "\n"

"""Two agents edit the same line: the second to land hits a rebase conflict, resolves it as an
agent (in conflict mode, pushing the resolution to a new branch of its own), and the PR is
consistent (no markers, both agents attributed, table equals git, nothing forced)."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from bot.activities.repo import attribute_range
from bot.render.attribution import render_table
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, Turn
from tests.support.project import README_MD, create, edit, plan_turn
from tests.support.runstack import OWNER, run_stack

LINE = "A tiny command-line tool."
RESOLVED = README_MD.replace(LINE, "A tiny command-line tool, now with --verbose (see Usage).")


def _agent(role: str, new_line: str) -> list[Turn]:
    return [
        Turn(tool_calls=[edit("README.md", LINE, new_line)]),
        # Both agents have edited the line before either commits: the conflict is certain.
        Turn(text=f"{role} done.", barrier="both edited", parties=2),
        # Only the agent that pushes second gets here, with the conflict prompt.
        Turn(tool_calls=[create("README.md", RESOLVED)]),
        Turn(text="Resolved the README conflict."),
    ]


async def test_conflicting_edits_are_resolved_by_an_agent(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The conflicted agent gets the conflict prompt, resolves, and the run ends in one PR."""
    scripts = {
        "submit_plan": [plan_turn(("implement", "docs"), "no new tests are needed")],
        "implement": _agent("implement", "A tiny command-line tool with --verbose."),
        "docs": _agent("docs", "A tiny command-line tool (see Usage)."),
    }
    with ScriptedModel(scripts) as model:
        async with run_stack(hub, temporal_client, task_queue, repo_name, model, tmp_path) as stack:
            await stack.command("/orchestrate add a --verbose flag")
            progress = await stack.finished_run()
            assert progress.state == "done", progress.state
            [pull] = stack.pulls()
            readme = stack.hub.read_file(OWNER, stack.repo, pull.head_ref, "README.md")
            assert readme == RESOLVED
            resolvers = [r for r in ("implement", "docs") if model.remaining(r) == 0]
            assert len(resolvers) == 1  # exactly one agent had to resolve
            conflict_request = model.requests_for(resolvers[0])[2].body
            assert "README.md" in str(conflict_request["messages"][-1]["content"])
            bare = stack.bare
            base = stack.hub.branch_sha(OWNER, stack.repo, "main")
            assert base is not None
            attribution = await attribute_range(bare, base, pull.head_ref)
            assert render_table(attribution, max_rows=300) in (pull.body or "")
            assert set(attribution.totals_by_agent) == {"implement", "docs"}
            pushes = stack.hub.state.pushes_to(OWNER, stack.repo)
            assert all(not push.forced for push in pushes)
            # Each agent's commit went to a branch of its own; the resolution to a new one; all
            # three were deleted once their work landed.
            scratch = pull.head_ref
            resolution = f"{scratch}--{resolvers[0]}-r1-c1"
            deleted = {p.ref.removeprefix("refs/heads/") for p in pushes if p.new == "0" * 40}
            assert deleted == {f"{scratch}--implement-r1", f"{scratch}--docs-r1", resolution}

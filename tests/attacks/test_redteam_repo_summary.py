"""Red team: the repository summary the `run_context` activity returned was not bounded (the
README's first 60 lines were copied whatever their length; only the planner and the agents cut
it later, to 40,000 characters). A repository whose README is one 3 MB line made the
activity's result larger than Temporal accepts: `run_context` failed on every attempt and the
run failed before planning.

Now the summary is bounded where it is built (names, lines, the whole), the settings file has
a size limit, and no activity result or input can exceed the payload bound
(activities/payloads.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, Turn
from tests.support.project import PROJECT_FILES, plan_turn
from tests.support.runstack import run_stack
from tests.support.stack import eventually_async

HUGE_README = "# tiny " + "x" * 3_000_000 + "\n"
SCRIPTS = {
    "submit_plan": [plan_turn(("implement",), "small")],
    "implement": [Turn(text="Nothing to do.")],
}


@pytest.mark.parametrize(
    "files",
    [
        {"README.md": HUGE_README},
        {"README": ("z" * 40_000 + "\n") * 200, f"{'deep/' * 40}{'n' * 200}.txt": ""},
    ],
    ids=["3 MB README line", "long lines and names"],
)
async def test_a_huge_readme_does_not_stop_the_run_before_planning(
    hub: FakeHub,
    temporal_client: Client,
    task_queue: str,
    repo_name: str,
    tmp_path: Path,
    files: dict[str, str],
) -> None:
    """The planner is asked within 30 s, with a summary cut to its limit."""
    with ScriptedModel(SCRIPTS) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path,
            files={**PROJECT_FILES, **files},
        ) as stack:  # fmt: skip
            await stack.command("/orchestrate tidy up")

            async def planned() -> bool:
                return bool(model.requests_for("submit_plan"))

            try:
                await eventually_async(planned, 30)
            except AssertionError:
                pytest.fail("the planner was never asked: run_context keeps failing")
            request = model.requests_for("submit_plan")[0]

    assert len(str(request.body)) < 200_000


async def test_a_huge_settings_file_is_reported_not_retried(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """A 3 MB `.github/orchestrate.yml` ends the run at once with a comment saying why; the
    planner is never asked."""
    files = {**PROJECT_FILES, ".github/orchestrate.yml": "# " + "p" * 3_000_000 + "\n"}
    with ScriptedModel(SCRIPTS) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=files
        ) as stack:
            await stack.command("/orchestrate tidy up")
            progress = await stack.finished_run(timeout=30)
            comments = stack.app_comments()

    assert progress.state.startswith("failed"), progress.state
    assert "larger than 65536 bytes" in progress.state
    assert any("larger than 65536 bytes" in body for body in comments)
    assert not model.requests_for("submit_plan")

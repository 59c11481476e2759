"""`bot run --repo PATH "task"`: the same workflow against a local repository, no GitHub."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from temporalio.client import Client

from bot.activities.repo import attribute_range
from bot.render.attribution import render_table
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel
from tests.support.environments import index_settings
from tests.support.project import PROJECT_FILES, plan_turn, verbose_scripts
from tests.support.runstack import run_stack

BOT = str(Path(sys.executable).parent / "bot")
TASK = "add a --verbose flag to the CLI"
BRANCH = "orchestrate/0-add-a-verbose-flag-to-the-cli"


def _scripts() -> dict[str, Script]:
    return {"submit_plan": [plan_turn()], **verbose_scripts(turns_each=2)}


def _local_repo(path: Path) -> Path:
    path.mkdir()
    for name, text in PROJECT_FILES.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    return path


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _headings(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("#")]


def _inherited() -> dict[str, str]:
    """PATH, and PYTHONPATH when set: a checkout other than the installed one runs its code."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")}


async def _bot_run(
    repo: Path, model: ScriptedModel, data: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **_inherited(),
        **index_settings(),  # the local index: its host the only one setups may reach
        "HOME": str(data),
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": model.base_url,
        "BOT_DATA_DIR": str(data),
    }
    return await asyncio.to_thread(
        subprocess.run,
        [BOT, "run", "--repo", str(repo), TASK],
        env=env,
        cwd=data,
        capture_output=True,
        text=True,
        timeout=180,
    )


async def test_bot_run_prints_plan_progress_and_the_same_pr_body(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """`bot run` prints the plan, live agent progress and a PR body with the sections of the
    GitHub run's and an attribution table equal to git's; the scratch branch stays behind. It
    builds the repository's environment the same way (the environment phase)."""
    with ScriptedModel(_scripts()) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path / "gh"
        ) as stack:
            await stack.command(f"/orchestrate {TASK}")
            await stack.finished_run()
            [pull] = stack.pulls()
            github_body = pull.body or ""

    repo = _local_repo(tmp_path / "local")
    data = tmp_path / "data"
    data.mkdir()
    with ScriptedModel(_scripts()) as model:
        result = await _bot_run(repo, model, data)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "===== PLAN =====" in out and "===== PULL REQUEST =====" in out
    # Progress is polled, so only the final line of each agent is certain to be printed.
    for role in ("implement", "test", "docs"):
        assert re.search(rf"^\[{role}\] done, [1-9]\d* turns, [\d,]+ tokens$", out, re.MULTILINE)
    assert re.search(r"^\[run\] done$", out, re.MULTILINE)
    # The same environment phase: pytest came from the local index (requirements-dev.txt).
    assert re.search(r"^\[environment\] built in \d", out, re.MULTILINE), out
    assert "[tests round 1] failed" in out and "[tests round 2] passed" in out
    local_body = out.split("===== PULL REQUEST =====\n", 1)[1]

    base = _git(repo, "rev-parse", "main").strip()
    table = render_table(await attribute_range(repo, base, BRANCH), max_rows=300)
    assert table in local_body
    assert _headings(local_body) == _headings(github_body)
    assert "Closes #" not in local_body and "Closes #1" in github_body
    branches = _git(repo, "branch", "--list", "orchestrate/*")
    assert BRANCH in branches


def test_bot_run_refuses_a_directory_that_is_not_a_repository(tmp_path: Path) -> None:
    """A path without a git repository is refused with exit status 2 and a one-line reason."""
    env = {**_inherited(), "HOME": str(tmp_path), "ANTHROPIC_API_KEY": "k"}
    result = subprocess.run(
        [BOT, "run", "--repo", str(tmp_path), "task"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"bot run: {tmp_path} is not a git repository\n",
    )


def test_bot_run_needs_an_anthropic_key(tmp_path: Path) -> None:
    """Without ANTHROPIC_API_KEY `bot run` exits 2 naming it; GitHub settings are not needed."""
    env = {**_inherited(), "HOME": str(tmp_path)}
    result = subprocess.run(
        [BOT, "run", "--repo", str(tmp_path), "task"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (2, "bot run: missing setting ANTHROPIC_API_KEY\n")

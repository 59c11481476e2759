"""The fixed environment of every host git command: only what git needs, config no repository can override."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.remote import Remote
from bot.git.env import FIXED_CONFIG
from bot.git.history import diff_numstat
from bot.git.run import run_git
from tests.attacks.hostile_git import commit_gitlink
from tests.git.helpers import git, remote_sha


async def test_environment_holds_only_what_git_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host secrets do not reach git; prompts are off; the identity and HOME are ours."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-must-not-leak")
    result = await run_git(["-c", "alias.showenv=!env", "showenv"], cwd=tmp_path, home=tmp_path)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert "ANTHROPIC_API_KEY" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["HOME"] == str(tmp_path)
    assert env["GIT_AUTHOR_NAME"] == env["GIT_COMMITTER_NAME"] == "orchestrate[bot]"
    assert env["GIT_CONFIG_GLOBAL"] == "/dev/null"


async def test_fixed_config_outranks_every_repository_setting(tmp_path: Path) -> None:
    """Each pinned setting wins over a hostile value in the repository's own config."""
    await git(tmp_path, "init", "--quiet")
    with (tmp_path / ".git" / "config").open("a") as config:
        for key, _ in FIXED_CONFIG:
            section, _, name = key.rpartition(".")
            config.write(f"[{section}]\n\t{name} = /tmp/hostile-command\n")
    for key, value in FIXED_CONFIG:
        got = (await run_git(["config", "--get", key], cwd=tmp_path, check=False)).stdout
        assert got == f"{value}\n", key


def test_fixed_config_disables_every_command_git_could_run_for_a_repository() -> None:
    """The settings that would run a command or reach a submodule are all pinned off."""
    pinned = dict(FIXED_CONFIG)
    assert pinned["core.hooksPath"] == "/dev/null"
    assert pinned["core.fsmonitor"] == "false"
    assert pinned["submodule.recurse"] == "false"
    assert pinned["fetch.recurseSubmodules"] == "false"
    assert pinned["push.recurseSubmodules"] == "no"
    assert pinned["diff.ignoreSubmodules"] == "dirty"
    assert pinned["credential.helper"] == ""
    assert pinned["protocol.allow"] == "never"
    assert {k for k, v in pinned.items() if k.startswith("protocol.") and v == "user"} == {
        "protocol.https.allow",
        "protocol.http.allow",
        "protocol.file.allow",
    }


async def test_gitlinks_stay_visible_in_diffs(remote: Remote) -> None:
    """The fixed config hides no gitlink from a diff: the write policy and attribution see it."""
    bare = Path(remote.url)
    main = await remote_sha(remote, "main")
    commit = commit_gitlink(bare, "main", "sub", main, gitmodules="")
    assert "1\t0\tsub" in (await diff_numstat(bare, main, commit)).splitlines()

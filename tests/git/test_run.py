"""The one git runner: errors that name the command, timeouts and cancels that leave no process, tokens that travel only as a scrubbed header."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import pytest

from bot.core.remote import Credential
from bot.errors import GitError
from bot.git.run import run_git


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


async def test_failed_command_raises_git_error_with_name_and_stderr(tmp_path: Path) -> None:
    """A non-zero exit becomes GitError naming the subcommand and quoting git's stderr."""
    with pytest.raises(GitError, match=r"^git rev-parse failed \(exit 128\): fatal: not a git"):
        await run_git(["rev-parse", "HEAD"], cwd=tmp_path)


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """On timeout, the processes git started (an alias's shell) die with git itself."""
    marker = f"orchestrate-hang-{uuid.uuid4().hex}"
    # `&&` keeps the shell alive as sleep's parent: it carries the marker in its command line.
    alias = f"alias.hang=!sleep 300 && echo {marker}"
    with pytest.raises(GitError, match=r"^git hang timed out after 1s$"):
        await run_git(["-c", alias, "hang"], cwd=tmp_path, timeout=1)
    for _ in range(500):  # SIGKILL is delivered at once, but exiting is not instantaneous
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker) == []


async def test_cancelling_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A cancelled call (an activity cancelled by Temporal) leaves no git process behind."""
    marker = f"orchestrate-cancel-{uuid.uuid4().hex}"
    started = tmp_path / "started"
    alias = f"alias.hang=!touch {started} && sleep 300 && echo {marker}"
    call = asyncio.create_task(run_git(["-c", alias, "hang"], cwd=tmp_path, timeout=600))
    for _ in range(1000):
        if started.exists():
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(500):
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker) == []


async def test_token_travels_only_as_a_scrubbed_header(tmp_path: Path) -> None:
    """The token is an http.<url>.extraHeader in the environment; git output never shows it."""
    token = "ghs_" + uuid.uuid4().hex
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    # An alias that prints every config value it was given to stderr, then fails.
    leak = "alias.leak=!env | grep GIT_CONFIG_VALUE >&2; exit 1"
    credential = Credential("https://github.com/octo/repo.git", token)
    with pytest.raises(GitError) as caught:
        await run_git(["-c", leak, "leak"], cwd=tmp_path, credential=credential)
    message = str(caught.value)
    assert "Authorization: ***" in message  # the header was there, and was scrubbed
    assert token not in message and encoded not in message

"""The tests activity on a worker that has to rebuild the run's environment and cannot: the
round is not reported as failing tests (none ran); the activity fails, to be retried."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from bot.activities import inputs
from bot.activities.environment import Environments
from bot.activities.tests import SandboxedTests
from bot.app.local_forge import LocalForge
from bot.git.mirror import MirrorCache
from bot.sandbox.bwrap import sandbox_available
from tests.activities.test_environment import TARGET, _commit
from tests.support.environments import local_environment

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)


def _branch(repo: Path, name: str) -> None:
    subprocess.run(["git", "branch", name], cwd=repo, check=True)


async def test_an_environment_this_worker_cannot_build_fails_the_activity_not_the_round(
    tmp_path: Path,
) -> None:
    """A requirement the index does not have: the setup fails here, and the activity raises a
    retryable SandboxError saying so instead of returning a failed round."""
    repo = tmp_path / "repo"
    repo.mkdir()
    base = _commit(repo, {"requirements.txt": "no-such-package-anywhere\n", "t.py": "x = 1\n"})
    _branch(repo, "scratch")
    data = tmp_path / "data"
    environments = Environments(
        LocalForge(repo), MirrorCache(data / "git"), local_environment(data)
    )
    tests = SandboxedTests(LocalForge(repo), MirrorCache(data / "git"), data / "work", environments)
    spec = inputs.EnvironmentSpec(target=TARGET, revision=base)
    params = inputs.TestInput(
        target=TARGET, branch="scratch", round=1, command="true", environment=spec
    )

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(tests.run_tests, params)

    assert raised.value.type == "SandboxError"
    assert not raised.value.non_retryable
    assert "the environment could not be built on this worker: the setup failed" in str(
        raised.value
    )

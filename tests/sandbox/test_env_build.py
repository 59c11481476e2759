"""The environment phase's pieces together, on a fixture project whose only manifest is
pyproject.toml: detection, a setup sandbox that reaches the loopback index only through the
egress proxy, the cache (a second use installs nothing), and offline use of the result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.core.egress_policy import EgressPolicy
from bot.core.env_detect import READ_FILES, RepoFiles, SetupPlan, WorkerTools, plan_setup
from bot.core.env_key import environment_key
from bot.core.env_parsed import read_manifests
from bot.sandbox.bwrap import sandbox_available
from bot.sandbox.egress_bridge import egress_sandbox
from bot.sandbox.egress_proxy import EgressProxy
from bot.sandbox.env_cache import EnvironmentCache
from tests.support.bwrap_direct import BASE_PYTHON, run_bwrap
from tests.support.loopback import short_socket_dir
from tests.support.pyindex import FIXTURE_BACKEND, FIXTURE_DEP, FIXTURE_PYPROJECT, PackageIndex

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)

APP_SOURCE = (
    "from orchestrate_fixture_dep import answer\n\n\ndef value() -> int:\n    return answer()\n"
)
TOOLS = WorkerTools(BASE_PYTHON, "3.11", {})
PROBE = (
    "python -c 'import fixture_app; print(fixture_app.value())'; "
    "python -c 'import temporalio' 2>&1 | tail -1; "
    "python -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:{port}/\", timeout=5)' 2>&1 | tail -1"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path.resolve() / "repo"
    (root / "src" / "fixture_app").mkdir(parents=True)
    (root / "pyproject.toml").write_text(FIXTURE_PYPROJECT)
    (root / "src" / "fixture_app" / "__init__.py").write_text(APP_SOURCE)
    return root


def _repo_files(root: Path) -> RepoFiles:
    paths = frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    texts = {name: (root / name).read_text() for name in READ_FILES if name in paths}
    return RepoFiles(paths, read_manifests(texts, "setup.py" in paths))


def _key(files: RepoFiles, root: Path, allow: list[str]) -> str:
    """The key from a plan made for a placeholder directory (the real one contains the key)."""
    placeholder = plan_setup(files, TOOLS, "/ENV")
    return environment_key(
        files={name: (root / name).read_bytes() for name in placeholder.inputs},
        steps=[step.command_line() for step in placeholder.steps],
        interpreter=TOOLS.python_version,
        allow=allow,
    )


async def _use(
    cache: EnvironmentCache, repo: Path, index: PackageIndex
) -> tuple[bool, str, SetupPlan]:
    allow = [f"127.0.0.1:{index.port}"]
    files = _repo_files(repo)
    async with cache.environment("inst-1/acme/fixture-app", _key(files, repo, allow)) as env:
        plan = plan_setup(files, TOOLS, str(env.path))
        built = not env.ready
        if built:
            with short_socket_dir() as directory:
                socket_path = directory / "egress.sock"
                async with EgressProxy(EgressPolicy.build(allow)).serving(socket_path):
                    setup = egress_sandbox(socket_path, BASE_PYTHON, pip_index_url=index.url)
                    script = " && ".join(step.command_line() for step in plan.steps)
                    status, output = await run_bwrap(
                        setup.wrap(script),
                        extra=setup.bwrap_args,
                        env={**setup.env, **plan.env},
                        rw_binds=[repo, env.path],
                        chdir=str(repo),
                    )
            assert status == 0, output
            await env.mark_complete()
        # Later sandboxes: no network, the environment read-only, the worktree at its path.
        path = ":".join([*plan.path, "/usr/bin", "/bin"])
        status, output = await run_bwrap(
            PROBE.format(port=index.port),
            env={"PATH": path, **plan.env},
            ro_binds=[env.path],
            rw_binds=[repo],
            chdir=str(repo),
        )
        assert status == 0, output
        return built, output, plan


async def test_environment_is_built_once_and_used_offline(
    tmp_path: Path, repo: Path, pyindex: PackageIndex
) -> None:
    """pyproject.toml alone gives a venv with the project editable and its test extra from
    the loopback index; later sandboxes import it with no network and without the app's own
    packages; a second use hits the cache and downloads nothing."""
    cache = EnvironmentCache(tmp_path / "envs", max_bytes=1 << 30)
    before = len(pyindex.downloads)
    built, output, plan = await _use(cache, repo, pyindex)
    assert built
    assert plan.description == "Python 3.11 virtualenv, pip install the project (.[test])"
    assert sorted(pyindex.downloads[before:]) == sorted(
        [FIXTURE_BACKEND.filename, FIXTURE_DEP.filename]
    )
    assert output == (
        "42\n"
        "ModuleNotFoundError: No module named 'temporalio'\n"
        "urllib.error.URLError: <urlopen error [Errno 111] Connection refused>\n"
    )
    downloads = len(pyindex.downloads)
    built_again, output_again, _ = await _use(cache, repo, pyindex)
    assert (built_again, output_again) == (False, output)
    assert len(pyindex.downloads) == downloads

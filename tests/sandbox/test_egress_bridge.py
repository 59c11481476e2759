"""The egress bridge in a real bubblewrap sandbox (own network namespace, flags as in
bot/sandbox_argv.py): commands reach allow-listed loopback servers on the host only through the
bridge and the proxy, and nothing without them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

from bot.core.egress_policy import EgressPolicy
from bot.sandbox.bwrap import sandbox_available
from bot.sandbox.egress_bridge import BRIDGE_FILE, EgressSandbox, egress_sandbox
from bot.sandbox.egress_proxy import EgressProxy
from tests.support.bwrap_direct import BASE_PYTHON, run_bwrap
from tests.support.loopback import LoopbackServer, http_server, short_socket_dir
from tests.support.npmregistry import PACKAGE, NpmRegistry
from tests.support.pyindex import FIXTURE_DEP, PackageIndex

pytestmark = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("CI"), reason="bubblewrap cannot run here"
)

PYTHON = BASE_PYTHON

URLLIB = """
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode(), end="")
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode(), end="")
except OSError as exc:
    print("unreachable:", exc)
"""


async def run_in_sandbox(
    command: str, setup: EgressSandbox | None = None, binds: Sequence[Path] = ()
) -> tuple[int, str]:
    if setup is None:
        return await run_bwrap(command, ro_binds=binds)
    return await run_bwrap(
        setup.wrap(command), extra=setup.bwrap_args, env=setup.env, ro_binds=binds
    )


def urllib_command(url: str) -> str:
    return f"{PYTHON} -I -S -c '{URLLIB}' {url}"


@pytest.fixture
def sock() -> Iterator[Path]:
    with short_socket_dir() as directory:
        yield directory / "egress.sock"


@pytest.fixture
async def web() -> AsyncIterator[LoopbackServer]:
    async with http_server() as server:
        yield server


@pytest.fixture
async def other_web() -> AsyncIterator[LoopbackServer]:
    async with http_server(b"you should not see this\n") as server:
        yield server


async def test_urllib_reaches_an_allowed_host_server_through_the_bridge(
    sock: Path, web: LoopbackServer
) -> None:
    """A stdlib HTTP client in the sandbox, configured only by the proxy variables, reaches
    an allow-listed server on the host's loopback; the proxy records it."""
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{web.port}"]))
    async with proxy.serving(sock):
        status, output = await run_in_sandbox(
            urllib_command(f"http://127.0.0.1:{web.port}/hello"), egress_sandbox(sock, PYTHON)
        )
    assert (status, output) == (0, "hello from the host\n")
    assert web.requests[0]["line"] == "GET /hello HTTP/1.1"
    assert [(r.host, r.port, r.allowed) for r in proxy.records] == [("127.0.0.1", web.port, True)]


async def test_a_denied_host_answers_the_proxys_403(
    sock: Path, web: LoopbackServer, other_web: LoopbackServer
) -> None:
    """A server that is not allow-listed is never contacted; the command reads the 403 that
    names it and network.allow."""
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{web.port}"]))
    async with proxy.serving(sock):
        status, output = await run_in_sandbox(
            urllib_command(f"http://127.0.0.1:{other_web.port}/"), egress_sandbox(sock, PYTHON)
        )
    assert (status, output) == (
        0,
        f"403 orchestrate egress proxy: 127.0.0.1:{other_web.port} is not on the egress "
        "allow-list. Setup commands reach only allow-listed hosts; to allow this one, add "
        f"'127.0.0.1:{other_web.port}' to network.allow in .github/orchestrate.yml.\n",
    )
    assert other_web.connections == 0


async def test_pip_downloads_from_an_allowed_index_through_the_bridge(
    sock: Path, pyindex: PackageIndex, pip_venv: Path
) -> None:
    """pip in the sandbox, given only the index URL and the proxy variables, downloads from
    the allow-listed loopback index."""
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{pyindex.port}"]))
    before = len(pyindex.downloads)
    command = (
        f"{pip_venv}/bin/python -m pip download --no-deps --no-cache-dir "
        f"--disable-pip-version-check -d /tmp/dl {FIXTURE_DEP.name} && ls /tmp/dl"
    )
    setup = egress_sandbox(sock, PYTHON, pip_index_url=pyindex.url)
    async with proxy.serving(sock):
        status, output = await run_in_sandbox(command, setup, binds=[pip_venv])
    assert status == 0, output
    assert output.endswith(f"{FIXTURE_DEP.filename}\n")
    assert pyindex.downloads[before:] == [FIXTURE_DEP.filename]


async def test_pip_fails_with_the_403_when_the_index_is_not_allowed(
    sock: Path, pyindex: PackageIndex, pip_venv: Path
) -> None:
    """With the index missing from the allow-list, pip fails and nothing is fetched. pip
    without -vv does not print the 403 of a plain-HTTP index page, so the proxy's summary is
    what tells why: it names the refused destination."""
    proxy = EgressProxy(EgressPolicy.build(["pypi.org"]))
    requests_before = len(pyindex.requests)
    command = (
        f"{pip_venv}/bin/python -m pip download --no-deps --no-cache-dir --retries 0 "
        f"--disable-pip-version-check -d /tmp/dl {FIXTURE_DEP.name}"
    )
    setup = egress_sandbox(sock, PYTHON, pip_index_url=pyindex.url)
    async with proxy.serving(sock):
        status, output = await run_in_sandbox(command, setup, binds=[pip_venv])
    assert status != 0
    assert f"No matching distribution found for {FIXTURE_DEP.name}" in output
    assert len(pyindex.requests) == requests_before
    [line] = proxy.summary()
    assert line.startswith(f"refused 127.0.0.1:{pyindex.port} (1 connection): ")
    assert line.endswith(
        f"add '127.0.0.1:{pyindex.port}' to network.allow in .github/orchestrate.yml."
    )


async def test_without_the_bridge_nothing_is_reachable(sock: Path, web: LoopbackServer) -> None:
    """The sandbox's loopback is its own: the host's server is unreachable directly, and the
    proxy port is dead unless the bridge was started (here: the variables without the prefix)."""
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{web.port}"]))
    setup = egress_sandbox(sock, PYTHON)
    no_prefix = EgressSandbox(setup.bwrap_args, setup.env, shell_prefix="")
    async with proxy.serving(sock):
        direct = await run_in_sandbox(urllib_command(f"http://127.0.0.1:{web.port}/"))
        unbridged = await run_in_sandbox(urllib_command(f"http://127.0.0.1:{web.port}/"), no_prefix)
    assert direct == (0, "unreachable: <urlopen error [Errno 111] Connection refused>\n")
    assert unbridged == (0, "unreachable: <urlopen error [Errno 111] Connection refused>\n")
    assert web.connections == 0
    assert proxy.records == []


async def test_the_socket_is_read_only_inside(sock: Path) -> None:
    """The sandbox can connect to the socket but not change, remove or replace it."""
    async with EgressProxy(EgressPolicy.build([])).serving(sock):
        status, output = await run_in_sandbox(
            "chmod 0777 /run/orchestrate/egress.sock; rm -f /run/orchestrate/egress.sock; "
            "ln -sf /tmp /run/orchestrate/x; echo done",
            egress_sandbox(sock, PYTHON),
        )
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert status == 0
    assert output.count("Read-only file system") == 3, output


async def test_a_bridge_that_cannot_start_stops_the_command(sock: Path) -> None:
    """When the bridge does not start, the command does not run and the exit status is 125."""
    async with EgressProxy(EgressPolicy.build([])).serving(sock):
        setup = egress_sandbox(sock, "/nonexistent/python3")
        status, output = await run_in_sandbox("echo command ran", setup)
    assert status == 125
    assert "orchestrate: the egress bridge did not start" in output
    assert "command ran" not in output


def test_bridge_refuses_a_missing_socket() -> None:
    """Run as a script, the bridge exits 1 with a message when the socket does not exist."""
    done = subprocess.run(
        [PYTHON, "-I", "-S", str(BRIDGE_FILE), "--port", "0", "--socket", "/nonexistent.sock"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (
        1,
        "egress bridge: no proxy socket at /nonexistent.sock\n",
    )


def test_sandbox_arguments_and_environment() -> None:
    """The mounts are read-only; every proxy variable points at the bridge; NO_PROXY is
    empty; index URLs only when given; the prefix quotes the interpreter path."""
    setup = egress_sandbox(
        Path("/x/egress.sock"),
        "/opt/py 3/bin/python3",
        port=4000,
        pip_index_url="http://127.0.0.1:9/simple/",
    )
    assert setup.bwrap_args == (
        "--ro-bind",
        "/x/egress.sock",
        "/run/orchestrate/egress.sock",
        "--ro-bind",
        str(BRIDGE_FILE),
        "/run/orchestrate/egress_bridge.py",
    )
    proxy = "http://127.0.0.1:4000"
    assert setup.env == {
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "ALL_PROXY": proxy,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "all_proxy": proxy,
        "NO_PROXY": "",
        "no_proxy": "",
        "npm_config_proxy": proxy,
        "npm_config_https_proxy": proxy,
        "PIP_RETRIES": "8",
        "PIP_TIMEOUT": "60",
        "UV_HTTP_RETRIES": "8",
        "UV_HTTP_TIMEOUT": "120",
        "npm_config_fetch_retries": "5",
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple/",
        "UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple/",
    }
    assert setup.wrap("make") == (
        "'/opt/py 3/bin/python3' -I -S /run/orchestrate/egress_bridge.py --port 4000 "
        "--socket /run/orchestrate/egress.sock || { echo 'orchestrate: the egress bridge did "
        "not start' >&2; exit 125; }\nmake"
    )
    assert "PIP_INDEX_URL" not in egress_sandbox(Path("/s"), "python3").env


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
@pytest.mark.parametrize("allowed", [True, False])
async def test_npm_installs_through_the_bridge_only_when_allowed(
    tmp_path: Path, sock: Path, allowed: bool
) -> None:
    """npm, configured by npm_config_proxy and the registry URL, installs from an allowed
    loopback registry; with the registry not allowed it fails with E403 and the registry
    never sees a request."""
    project = tmp_path.resolve() / "project"
    project.mkdir()
    (project / "package.json").write_text(
        '{"name": "p", "version": "1.0.0", "dependencies": {"orchestrate-fixture-js": "1.0.0"}}'
    )
    with NpmRegistry() as registry:
        proxy = EgressProxy(
            EgressPolicy.build([f"127.0.0.1:{registry.port}" if allowed else "registry.npmjs.org"])
        )
        setup = egress_sandbox(sock, PYTHON, npm_registry_url=registry.url)
        command = "npm install --no-audit --no-fund --loglevel=error; node -e 'console.log(require(\"orchestrate-fixture-js\"))'"
        async with proxy.serving(sock):
            status, output = await run_bwrap(
                setup.wrap(command),
                extra=setup.bwrap_args,
                env=setup.env,
                rw_binds=[project],
                chdir=str(project),
            )
    if allowed:
        assert (status, output.endswith("\n42\n")) == (0, True), output
        assert f"/{PACKAGE}/-/{PACKAGE}-1.0.0.tgz" in registry.requests
    else:
        assert status != 0
        assert f"npm error 403 403 Forbidden - GET {registry.url}{PACKAGE}" in output
        assert registry.requests == []

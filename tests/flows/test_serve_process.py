"""`bot serve` as a real process: settings errors, the end-to-end path, restart and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app.devserver import free_port
from bot.render import messages
from tests.fakehub import FakeHub
from tests.support.payloads import comment_event, webhook_headers
from tests.support.stack import eventually, visible

OWNER = "serve-org"
SECRET = "serve-secret"
BOT = [str(Path(sys.executable).parent / "bot")]


def _clean_env(**extra: str) -> dict[str, str]:
    # PYTHONPATH: a checkout other than the installed one (a worktree) runs its own code.
    names = {"PATH", "HOME", "LANG", "SYSTEMROOT", "PYTHONPATH"}
    keep = {k: v for k, v in os.environ.items() if k in names}
    return {**keep, **extra}


def _serve_env(hub: FakeHub, data_dir: Path, port: int) -> dict[str, str]:
    return _clean_env(
        GITHUB_APP_ID=str(hub.app_id),
        GITHUB_PRIVATE_KEY=hub.private_key_pem,
        GITHUB_WEBHOOK_SECRET=SECRET,
        GITHUB_API_URL=hub.base_url,
        ANTHROPIC_API_KEY="sk-ant-test-not-used",
        BOT_DATA_DIR=str(data_dir),
        PORT=str(port),
        LOG_LEVEL="warning",
    )


class ServeProcess:
    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = int(env["PORT"])
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [*BOT, "serve"], env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"bot serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("bot serve did not become ready")

    def interrupt(self) -> tuple[int, float]:
        """Ctrl-C; returns the exit code and how long shutting down took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        self._log.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def serve_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_missing_settings_exit_2_with_one_line_each(tmp_path: Path) -> None:
    """No configuration: exit status 2, one line per missing name, no traceback."""
    result = subprocess.run(
        [*BOT, "serve"], env=_clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bot serve: missing setting GITHUB_APP_ID",
        "bot serve: missing setting GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH",
        "bot serve: missing setting GITHUB_WEBHOOK_SECRET",
        "bot serve: missing setting ANTHROPIC_API_KEY",
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_invalid_setting_exits_2_naming_it(tmp_path: Path) -> None:
    """A malformed value (PORT=abc) is named, with exit status 2 and no traceback."""
    result = subprocess.run(
        [*BOT, "serve"],
        env=_clean_env(PORT="abc"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("bot serve: invalid setting PORT: ")
    assert "Traceback" not in result.stderr


def test_empty_secret_counts_as_missing(tmp_path: Path, hub: FakeHub) -> None:
    """An empty GITHUB_WEBHOOK_SECRET is as good as none: exit 2 naming it."""
    env = {**_serve_env(hub, tmp_path / "data", free_port()), "GITHUB_WEBHOOK_SECRET": ""}
    result = subprocess.run(
        [*BOT, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (
        2,
        "bot serve: missing setting GITHUB_WEBHOOK_SECRET\n",
    )


def test_webhook_only_server_needs_only_the_webhook_secret(tmp_path: Path) -> None:
    """`bot serve --no-worker` asks for the webhook secret alone (it makes no GitHub call)."""
    result = subprocess.run(
        [*BOT, "serve", "--no-worker"],
        env=_clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "bot serve: missing setting GITHUB_WEBHOOK_SECRET\n",
    )


def test_unreachable_temporal_is_one_line_not_a_traceback(tmp_path: Path, hub: FakeHub) -> None:
    """A worker pointed at a Temporal that is not there exits 1 with one line saying so."""
    env = {
        **_serve_env(hub, tmp_path / "data", free_port()),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TEMPORAL_CONNECT_TIMEOUT": "1",
    }
    result = subprocess.run(
        [*BOT, "worker"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("bot worker: cannot reach Temporal at 127.0.0.1:")
    assert hub.private_key_pem.splitlines()[1] not in result.stderr


def test_worker_needs_a_temporal_address(tmp_path: Path, hub: FakeHub) -> None:
    """`bot worker` scales out against a shared Temporal, so it refuses to start without one."""
    env = _serve_env(hub, tmp_path / "data", free_port())
    result = subprocess.run(
        [*BOT, "worker"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (
        2,
        "bot worker: missing setting TEMPORAL_ADDRESS\n",
    )


def _post_command(url: str, repo: str, repo_id: int, comment_id: int, body: str) -> httpx.Response:
    payload = comment_event(
        body, owner=OWNER, repo=repo, repo_id=repo_id, comment_id=comment_id, login="maintainer"
    )
    raw = json.dumps(payload).encode()
    return httpx.post(
        f"{url}/webhooks",
        content=raw,
        headers=webhook_headers("issue_comment", raw, SECRET),
        timeout=10,
    )


def _replies(hub: FakeHub, repo: str) -> list[str]:
    return [visible(c.body) for c in hub.state.comments_on(OWNER, repo, 1) if c.via_app]


async def test_end_to_end_through_bot_serve(hub: FakeHub, serve_dir: Path, repo_name: str) -> None:
    """A signed real payload POSTed to `bot serve` → workflow on its embedded Temporal → eyes and
    reply on the emulator; Ctrl-C then stops everything within 5 s with status 0."""
    repo = hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "Add a flag", "")
    hub.set_permission(OWNER, repo_name, "maintainer", "write")
    comment_id = hub.add_comment(OWNER, repo_name, 1, "/orchestrate help", user="maintainer")
    server = ServeProcess(
        _serve_env(hub, serve_dir / "data", free_port()), serve_dir, serve_dir / "serve.log"
    )
    try:
        server.wait_ready()
        response = _post_command(server.url, repo_name, repo.id, comment_id, "/orchestrate help")
        assert response.status_code == 202
        await eventually(lambda: _replies(hub, repo_name))
        assert [r.content for r in hub.state.reactions_on(comment_id)] == ["eyes"]
        assert _replies(hub, repo_name) == [messages.help_text()]
        code, took = server.interrupt()
    finally:
        server.kill()
    assert code == 0
    assert took < 5.0
    assert (serve_dir / "data" / "temporal.sqlite").is_file()
    log = (serve_dir / "serve.log").read_text()
    assert hub.private_key_pem.splitlines()[1] not in log and SECRET not in log


def test_killed_serve_takes_its_temporal_server_with_it(hub: FakeHub, serve_dir: Path) -> None:
    """SIGKILL on `bot serve` (no clean shutdown) still ends its embedded Temporal server."""
    server = ServeProcess(
        _serve_env(hub, serve_dir / "data", free_port()), serve_dir, serve_dir / "k.log"
    )
    try:
        server.wait_ready()
        children = _children(server.process.pid)
        assert children, "the embedded Temporal server is a child of bot serve"
    finally:
        server.kill()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.durability
async def test_a_run_started_before_a_restart_finishes_after_it(
    hub: FakeHub, serve_dir: Path, repo_name: str
) -> None:
    """Workflow state lives in the SQLite file: a command accepted by one `bot serve` while
    GitHub was failing completes under the next `bot serve` on the same data dir."""
    repo = hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "Add a flag", "")
    hub.set_permission(OWNER, repo_name, "maintainer", "admin")
    comment_id = hub.add_comment(OWNER, repo_name, 1, "/orchestrate help", user="maintainer")
    permission_route = rf"/repos/{OWNER}/{repo_name}/collaborators/maintainer/permission"
    hub.inject("GET", permission_route, status=502, times=-1)
    data = serve_dir / "data"
    first = ServeProcess(_serve_env(hub, data, free_port()), serve_dir, serve_dir / "first.log")
    try:
        first.wait_ready()
        assert (
            _post_command(
                first.url, repo_name, repo.id, comment_id, "/orchestrate help"
            ).status_code
            == 202
        )
        await eventually(
            lambda: any(
                path.endswith("/permission") and status == 502
                for _, path, status in hub.state.requests
                if repo_name in path
            )
        )
        assert first.interrupt()[0] == 0
    finally:
        first.kill()
    assert _replies(hub, repo_name) == []
    hub.clear_faults()
    second = ServeProcess(_serve_env(hub, data, free_port()), serve_dir, serve_dir / "second.log")
    try:
        second.wait_ready()
        await eventually(lambda: _replies(hub, repo_name), timeout=60)
        assert _replies(hub, repo_name) == [messages.help_text()]
        assert [r.content for r in hub.state.reactions_on(comment_id)] == ["eyes"]
        assert second.interrupt()[0] == 0
    finally:
        second.kill()

"""The embedded Temporal dev server: started with an environment of its own, not the app's."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from bot.app.devserver import SERVER_ENV, DevServer


def _environ_of_process_with(marker: str) -> list[bytes]:
    """The environment entries of the one live process whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append((entry / "environ").read_bytes())
        except OSError:
            continue
    [environ] = found
    return [item for item in environ.split(b"\0") if item]


async def test_server_process_has_none_of_the_apps_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets in `bot serve`'s environment are not in the Temporal server's environ: it has
    exactly SERVER_ENV."""
    canary = f"canary-{secrets.token_hex(12)}"
    for name in ("GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET", "ANTHROPIC_API_KEY", "X_ANY"):
        monkeypatch.setenv(name, f"{canary}-{name}")
    db_file = tmp_path / f"temporal-{secrets.token_hex(6)}.db"
    server = DevServer(db_file)
    await server.start()
    try:
        environ = _environ_of_process_with(str(db_file))
    finally:
        await server.stop()
    assert environ == [f"{name}={value}".encode() for name, value in SERVER_ENV.items()]
    assert all(canary.encode() not in item for item in environ)

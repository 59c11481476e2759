"""The environment phase in tests: the local package index as the only allow-listed host, for
in-process workers (options) and `bot` processes (settings)."""

from __future__ import annotations

from pathlib import Path

from bot.activities.environment import EnvironmentOptions
from bot.core.egress_allow import EgressAllowList
from tests.support.pyindex import PackageIndex, shared_index


def local_environment(
    data_dir: Path, index: PackageIndex | None = None, *, allow: tuple[str, ...] = ()
) -> EnvironmentOptions:
    """Environments under `data_dir`, set up from `index` (default: the shared one), whose
    address is the only trusted host besides `allow`."""
    index = index or shared_index()
    return EnvironmentOptions(
        allow=EgressAllowList(trusted=(f"127.0.0.1:{index.port}", *allow)),
        cache_root=data_dir.absolute() / "envs",
        max_bytes=1 << 30,
        work_root=data_dir.absolute() / "work" / "setup",
        socket_root=Path("/tmp"),
        pip_index_url=index.url,
    )


def index_settings(index: PackageIndex | None = None) -> dict[str, str]:
    """The same for a `bot` process: ORCHESTRATE_* settings."""
    index = index or shared_index()
    return {
        "ORCHESTRATE_NETWORK_ALLOW": f"127.0.0.1:{index.port}",
        "ORCHESTRATE_PIP_INDEX_URL": index.url,
    }

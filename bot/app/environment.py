"""The environment phase's operator settings, turned into what the activities take: the egress
allow-list, the cache's place and size, where proxy sockets go, the CA bundle setups trust."""

from __future__ import annotations

import os
from pathlib import Path

from bot.activities.environment import EnvironmentOptions
from bot.app.settings import Settings
from bot.core.egress_allow import EgressAllowList, split_entries
from bot.core.egress_policy import EgressRefused
from bot.errors import ConfigError

# The first of these that exists is the system's CA bundle (Debian, Fedora, Alpine).
SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)
_MAX_SOCKET_ROOT_CHARS = 60  # + "/orch-<uid>/egXXXXXXXX/egress.sock" stays under 107 bytes


def environment_options(settings: Settings, data_dir: Path | None = None) -> EnvironmentOptions:
    """The options of this worker's environments; ConfigError for a malformed allow-list."""
    data = data_dir or settings.bot_data_dir
    try:
        allow = EgressAllowList(
            trusted=split_entries(settings.orchestrate_network_allow),
            cap=split_entries(settings.orchestrate_network_allow_repos),
        )
    except EgressRefused as exc:
        raise ConfigError(f"ORCHESTRATE_NETWORK_ALLOW(_REPOS): {exc}") from exc
    return EnvironmentOptions(
        allow=allow,
        cache_root=data.absolute() / "envs",
        max_bytes=settings.orchestrate_env_cache_mb * 1024 * 1024,
        work_root=data.absolute() / "work" / "setup",
        socket_root=socket_root(),
        pip_index_url=settings.orchestrate_pip_index_url,
        npm_registry_url=settings.orchestrate_npm_registry,
        ca_bundle=settings.orchestrate_setup_ca_bundle or system_ca_bundle(),
    )


def socket_root() -> Path:
    """A short directory for the egress proxies' private socket directories: the user's
    runtime directory when short enough, else /tmp."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    short = runtime.startswith("/") and len(runtime) <= _MAX_SOCKET_ROOT_CHARS
    if short and os.path.isdir(runtime):
        return Path(runtime)
    return Path("/tmp")


def system_ca_bundle() -> Path | None:
    return next((Path(p) for p in SYSTEM_CA_BUNDLES if os.path.isfile(p)), None)

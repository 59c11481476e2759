"""The operator's environment settings, turned into the activities' options."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.app.environment import environment_options, socket_root, system_ca_bundle
from bot.app.settings import DEFAULT_NETWORK_ALLOW, Settings
from bot.errors import ConfigError


def test_defaults_allow_the_public_registries_under_the_data_dir(tmp_path: Path) -> None:
    """By default: PyPI and npm's hosts, any public host for repositories, 10 GiB of cache
    under BOT_DATA_DIR/envs, no index override, the system CA bundle."""
    options = environment_options(Settings.model_construct(), tmp_path)
    assert options.allow.trusted == ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org")
    assert options.allow.cap == ("*",)
    assert DEFAULT_NETWORK_ALLOW.count(",") == 2
    assert options.cache_root == tmp_path.absolute() / "envs"
    assert options.max_bytes == 10240 * 1024 * 1024
    assert (options.pip_index_url, options.npm_registry_url) == (None, None)
    assert options.ca_bundle == system_ca_bundle()


def test_settings_are_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORCHESTRATE_* variables set the trusted hosts, the cap, the cache size, the index."""
    monkeypatch.setenv("ORCHESTRATE_NETWORK_ALLOW", "pypi.internal:8443 127.0.0.1:3141")
    monkeypatch.setenv("ORCHESTRATE_NETWORK_ALLOW_REPOS", "*.corp.example")
    monkeypatch.setenv("ORCHESTRATE_ENV_CACHE_MB", "2048")
    monkeypatch.setenv("ORCHESTRATE_PIP_INDEX_URL", "http://127.0.0.1:3141/simple/")
    monkeypatch.setenv("ORCHESTRATE_SETUP_CA_BUNDLE", str(tmp_path / "ca.pem"))
    options = environment_options(Settings(_env_file=None), tmp_path)
    assert options.allow.trusted == ("pypi.internal:8443", "127.0.0.1:3141")
    assert options.allow.cap == ("*.corp.example",)
    assert options.max_bytes == 2048 * 1024 * 1024
    assert options.pip_index_url == "http://127.0.0.1:3141/simple/"
    assert options.ca_bundle == tmp_path / "ca.pem"


def test_a_malformed_allow_list_is_a_config_error(tmp_path: Path) -> None:
    """A bad entry fails at start-up, naming the setting."""
    settings = Settings.model_construct(orchestrate_network_allow="http://pypi.org")
    with pytest.raises(ConfigError, match=r"^ORCHESTRATE_NETWORK_ALLOW\(_REPOS\): invalid"):
        environment_options(settings, tmp_path)


def test_the_socket_root_is_short(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """XDG_RUNTIME_DIR when it is short and exists, else /tmp (a socket path has 107 bytes)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert socket_root() == (tmp_path if len(str(tmp_path)) <= 60 else Path("/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/" + "x" * 80)
    assert socket_root() == Path("/tmp")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert socket_root() == Path("/tmp")


def test_empty_optional_settings_are_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose passes an unset optional value as an empty string: that means unset, not the
    current directory as a CA bundle or an empty index URL."""
    for name in ("PIP_INDEX_URL", "NPM_REGISTRY", "SETUP_CA_BUNDLE"):
        monkeypatch.setenv(f"ORCHESTRATE_{name}", "")
    options = environment_options(Settings(_env_file=None), tmp_path)
    assert (options.pip_index_url, options.npm_registry_url) == (None, None)
    assert options.ca_bundle == system_ca_bundle()


@pytest.mark.parametrize("name", ["PIP_INDEX_URL", "NPM_REGISTRY"])
def test_an_index_url_with_credentials_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setup commands see the index URL: one carrying user:password@ fails at start-up,
    naming the setting, without echoing the password in the message; one without is kept."""
    monkeypatch.setenv(f"ORCHESTRATE_{name}", "https://bob:s3cret@pypi.corp.example/simple/")
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    (error,) = raised.value.errors()
    assert error["msg"] == (
        f"Value error, ORCHESTRATE_{name} must not carry credentials (user:password@): "
        "repository code run by the setup could read them; use an index that needs none, "
        "or a proxy in front of it that adds them"
    )
    monkeypatch.setenv(f"ORCHESTRATE_{name}", "https://pypi.corp.example/simple/")
    settings = Settings(_env_file=None)
    assert getattr(settings, f"orchestrate_{name.lower()}") == "https://pypi.corp.example/simple/"

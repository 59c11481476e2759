"""Every setting the app reads, in one place, read once at start-up (environment or `.env`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.pricing import PriceTable
from bot.errors import ConfigError

DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_TASK_QUEUE = "orchestrate"
# The hosts every repository's setup may reach: the public Python and npm registries.
DEFAULT_NETWORK_ALLOW = "pypi.org, files.pythonhosted.org, registry.npmjs.org"


class Settings(BaseSettings):
    """Process configuration. Optional here; each command states what it requires."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    github_app_id: int | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    github_api_url: str = DEFAULT_GITHUB_API_URL
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = None  # Temporal Cloud API key (implies TLS)
    temporal_tls: bool = False
    temporal_task_queue: str = DEFAULT_TASK_QUEUE
    # How long a process waits for Temporal to serve at start-up (a cluster mid-restart).
    temporal_connect_timeout: float = Field(default=15.0, gt=0, le=600)
    bot_data_dir: Path = Path(".bot")
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    log_level: str = "info"
    orchestrate_prices: str | None = None  # JSON overrides of core/pricing.py's table
    # The environment phase (README: "The environment phase"): hosts every setup may reach,
    # what a repository's network.allow may add (`*`: any public host), the cache's size, and
    # an index or registry to point setups at (allow-list its host too).
    orchestrate_network_allow: str = DEFAULT_NETWORK_ALLOW
    orchestrate_network_allow_repos: str = "*"
    orchestrate_env_cache_mb: int = Field(default=10240, ge=100)
    orchestrate_pip_index_url: str | None = None
    orchestrate_npm_registry: str | None = None
    orchestrate_setup_ca_bundle: Path | None = None  # default: the system's CA bundle

    def price_table(self) -> PriceTable:
        table = PriceTable.default()
        return table.with_overrides(self.orchestrate_prices) if self.orchestrate_prices else table

    @field_validator(
        "orchestrate_pip_index_url",
        "orchestrate_npm_registry",
        "orchestrate_setup_ca_bundle",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # compose passes unset optional values as ""

    @field_validator("orchestrate_pip_index_url", "orchestrate_npm_registry")
    @classmethod
    def _no_credentials(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Setup commands are repository code and see these URLs: a password there is theirs.
        if value is not None and "@" in urlsplit(value).netloc:
            raise ValueError(
                f"{str(info.field_name).upper()} must not carry credentials (user:password@): "
                "repository code run by the setup could read them; use an index that needs "
                "none, or a proxy in front of it that adds them"
            )
        return value

    @field_validator("github_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def private_key_pem(self) -> str:
        """The app's private key, from the variable or the file it names."""
        if self.github_private_key is not None:
            # .env files and CI secrets often carry the PEM with literal "\n".
            return self.github_private_key.get_secret_value().replace("\\n", "\n")
        if self.github_private_key_path is not None:
            try:
                return self.github_private_key_path.read_text()
            except OSError as exc:
                raise ConfigError(
                    f"GITHUB_PRIVATE_KEY_PATH: cannot read {self.github_private_key_path}: "
                    f"{exc.strerror}"
                ) from exc
        raise ConfigError("GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH is required")

    def missing(self, *, web: bool = True, worker: bool = True) -> list[str]:
        """Names of the settings a process needs and lacks (empty values count as missing).

        The webhook server needs only the webhook secret; a worker needs the app's identity
        and the model key.
        """

        def unset(value: SecretStr | int | Path | None) -> bool:
            if isinstance(value, SecretStr):
                return not value.get_secret_value().strip()
            return value is None

        missing = []
        if worker and unset(self.github_app_id):
            missing.append("GITHUB_APP_ID")
        if worker and unset(self.github_private_key) and unset(self.github_private_key_path):
            missing.append("GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH")
        if web and unset(self.github_webhook_secret):
            missing.append("GITHUB_WEBHOOK_SECRET")
        if worker and unset(self.anthropic_api_key):
            missing.append("ANTHROPIC_API_KEY")
        return missing

    @property
    def temporal_state_file(self) -> Path:
        return self.bot_data_dir / "temporal.sqlite"


def git_cache_dir(data_dir: Path) -> Path:
    """The worker's mirror cache under a data dir (`bot serve`, `bot worker` and `bot run`)."""
    return data_dir / "git"


def work_dir(data_dir: Path) -> Path:
    """Where agents and tests get their worktrees, one directory per run and activity."""
    return data_dir / "work"

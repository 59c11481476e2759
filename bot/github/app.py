"""The GitHub App itself: JWT auth, installation tokens (for git: scoped to one repository)
cached per installation and repository and refreshed before expiry, and installation clients.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy

from bot.errors import GitHubError
from bot.github.rest import Installation, call

# Refresh a token this long before GitHub says it expires (tokens live one hour).
TOKEN_REFRESH_MARGIN_S = 300.0
USER_AGENT = "orchestrate-bot"


@dataclass
class _CachedToken:
    token: str
    expires_at: float  # epoch seconds


class GitHubApp:
    """A GitHub App: signs JWTs, mints installation tokens, hands out installation clients."""

    def __init__(
        self, app_id: int, private_key_pem: str, api_url: str, *, timeout: float = 30.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._app = GitHub(
            AppAuthStrategy(app_id, private_key_pem),
            base_url=self.api_url,
            user_agent=USER_AGENT,
            timeout=timeout,
            cache_strategy=MemCacheStrategy(),
            http_cache=False,
            auto_retry=False,
        )
        self._tokens: dict[tuple[int, int | None], _CachedToken] = {}
        self._lock = asyncio.Lock()
        self._clock: Callable[[], float] = time.time
        self._slug: str | None = None

    async def installation_token(
        self, installation_id: int, *, repository_id: int | None = None
    ) -> str:
        """A token for the installation, minted once and reused until shortly before expiry.

        With `repository_id`, GitHub limits the token to that one repository: a token that
        leaked from one run's git commands reaches no other repository of the installation.
        """
        key = (installation_id, repository_id)
        async with self._lock:
            cached = self._tokens.get(key)
            if cached and cached.expires_at - TOKEN_REFRESH_MARGIN_S > self._clock():
                return cached.token
            create = self._app.rest.apps.async_create_installation_access_token
            request = (
                create(installation_id)
                if repository_id is None
                else create(installation_id, repository_ids=[repository_id])
            )
            response = await call("create installation token", request)
            data = response.parsed_data
            expires_at = datetime.fromisoformat(data.expires_at.replace("Z", "+00:00"))
            self._tokens[key] = _CachedToken(data.token, expires_at.timestamp())
            return data.token

    async def bot_login(self) -> str:
        """The login the app's own comments and pull requests carry: `<slug>[bot]`."""
        if self._slug is None:
            response = await call("read the app", self._app.rest.apps.async_get_authenticated())
            app = response.parsed_data
            if app is None or not app.slug:
                raise GitHubError("read the app: no slug in the answer")
            self._slug = app.slug
        return f"{self._slug}[bot]"

    async def installation(self, installation_id: int) -> Installation:
        token = await self.installation_token(installation_id)
        client = GitHub(
            TokenAuthStrategy(token),
            base_url=self.api_url,
            user_agent=USER_AGENT,
            timeout=self._timeout,
            cache_strategy=MemCacheStrategy(),
            http_cache=False,
            auto_retry=False,
        )
        return Installation(client)

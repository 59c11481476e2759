"""A git remote as the app knows it: its URL, the token for that URL only, and the scope
(installation and repository) whose private mirror cache it is fetched into.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.errors import GitError

# What may appear in a URL that becomes part of a git config key: no whitespace or control
# characters (a newline would end the key), no credentials, query or fragment.
_SAFE_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~%!$&'()*+,;=:@/\-]*)?")


def auth_header(token: str) -> str:
    """The header GitHub accepts for an installation token over smart HTTP."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    return f"Authorization: Basic {basic}"


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Credential:
    """An installation token bound to one remote URL: git sends it there and nowhere else.

    It reaches git as `http.<url>.extraHeader` in the environment of the one command that talks
    to that URL. git matches such keys by scheme, host, port and whole leading path segments,
    so a submodule, a redirect target or any other URL never matches it.
    """

    url: str
    token: str = field(repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if not _SAFE_URL.fullmatch(self.url) or parts.username or parts.query or parts.fragment:
            raise GitError("a token may only be given for a plain http(s) remote URL")
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            raise GitError("a token is sent over https only (plain http only to loopback)")
        if not self.token or any(ch.isspace() or not ch.isprintable() for ch in self.token):
            raise GitError("the token is empty or holds whitespace")

    @property
    def config(self) -> tuple[str, str]:
        """The (key, value) git reads: the header, scoped to this URL."""
        return f"http.{self.url}.extraHeader", auth_header(self.token)


@dataclass(frozen=True)
class Remote:
    """Where a run's repository lives. `scope` names its owner (e.g. the installation and the
    repository id): the mirror cache keeps one mirror per scope and URL, so two installations,
    or two repositories, never share a mirror."""

    url: str
    token: str | None = field(default=None, repr=False)
    scope: str = ""

    @property
    def credential(self) -> Credential | None:
        return Credential(self.url, self.token) if self.token else None

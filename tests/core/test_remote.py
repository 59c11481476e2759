"""A token is bound to one plain https (or loopback http) remote URL."""

from __future__ import annotations

import pytest

from bot.core.remote import Credential
from bot.errors import GitError


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/o/r.git\n[core]\nfsmonitor=x",
        "https://user:pw@github.com/o/r.git",
        "https://github.com/o/r.git?x=1",
        "ext::sh -c touch% /tmp/x",
        "ssh://github.com/o/r.git",
        "/local/path",
        "http://github.example.com/o/r.git",
    ],
)
def test_credential_refuses_urls_that_are_not_plain_https(url: str) -> None:
    """A token is only bound to a plain https URL (http only on loopback): nothing that could
    bend the config key or send it in clear text."""
    with pytest.raises(GitError, match=r"plain http|https only"):
        Credential(url, "ghs_x")
    assert Credential("http://127.0.0.1:8080/o/r.git", "ghs_x").url.startswith("http://")

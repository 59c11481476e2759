"""The allow-list of one setup: the operator's trusted entries plus a repository's, each of the
latter within the operator's cap (exact refusals)."""

from __future__ import annotations

import pytest

from bot.core.egress_allow import EgressAllowList, split_entries
from bot.core.egress_policy import EgressRefused, parse_target

TRUSTED = ("pypi.org", "files.pythonhosted.org", "127.0.0.1:8080")


def test_split_entries_takes_commas_and_whitespace() -> None:
    """A setting's list is split on commas and whitespace; empty entries are dropped."""
    assert split_entries(" pypi.org,files.pythonhosted.org\n  *.corp.example:8443 ,,") == (
        "pypi.org",
        "files.pythonhosted.org",
        "*.corp.example:8443",
    )
    assert split_entries("") == ()


def test_any_public_host_cap_accepts_public_repository_entries() -> None:
    """With the default cap (`*`) a repository may add any public name; its entries follow
    the operator's, and the policy built from both allows them."""
    allow = EgressAllowList(TRUSTED)
    assert allow.entries(["example.org", "*.example.net:8443"]) == (
        *TRUSTED,
        "example.org",
        "*.example.net:8443",
    )
    policy = allow.policy(["example.org"])
    assert str(policy.rule_for(parse_target("example.org:443", connect=True))) == "example.org"
    assert not policy.rule_for(parse_target("example.org:443", connect=True)).trusted


@pytest.mark.parametrize(
    ("entry", "inside"),
    [
        ("pkgs.corp.example", True),
        ("a.b.corp.example:443", True),
        ("*.pkgs.corp.example", True),
        ("corp.example", False),  # the wildcard's suffix itself is not below it
        ("*.other.example", False),
        ("evil.example", False),
        ("pkgs.corp.example:8443", False),  # a port the cap does not allow
        ("mirror.example.org", False),  # no port: 443 and 80, neither is the cap's 8443
        ("mirror.example.org:443", False),  # the cap names port 8443 only
        ("mirror.example.org:8443", True),
        ("other.example.org:8443", False),
    ],
)
def test_a_repository_entry_must_lie_within_the_cap(entry: str, inside: bool) -> None:
    """Every destination a repository entry allows must be one a cap entry allows: the same
    name or one below a wildcard, and only the ports the cap entry allows."""
    allow = EgressAllowList(TRUSTED, cap=("*.corp.example", "mirror.example.org:8443"))
    if inside:
        assert allow.entries([entry])[-1] == entry
    else:
        with pytest.raises(EgressRefused) as refused:
            allow.entries([entry])
        assert str(refused.value) == (
            f"network.allow entry {entry!r} is outside what this app's operator lets "
            "repositories allow (ORCHESTRATE_NETWORK_ALLOW_REPOS)"
        )


def test_an_empty_cap_lets_repositories_add_nothing() -> None:
    """A cap with no entries refuses every repository entry, and accepts none at all."""
    allow = EgressAllowList(TRUSTED, cap=())
    assert allow.entries([]) == TRUSTED
    with pytest.raises(EgressRefused, match="outside what this app's operator"):
        allow.entries(["example.org"])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("10.0.0.5", "names a non-public address"),
        ("http://example.org", "invalid egress allow-list entry"),
        ("*.org", "a wildcard needs a domain of at least two labels"),
    ],
)
def test_repository_entries_are_checked_whatever_the_cap(entry: str, message: str) -> None:
    """A repository entry naming a private address, or a malformed one, is refused even when
    the cap allows any public host."""
    with pytest.raises(EgressRefused, match=message):
        EgressAllowList(TRUSTED).entries([entry])


def test_too_many_repository_entries_are_refused() -> None:
    """At most 50 repository entries."""
    with pytest.raises(EgressRefused, match="more than 50 entries"):
        EgressAllowList(TRUSTED).entries([f"h{i}.example.org" for i in range(51)])


@pytest.mark.parametrize("cap", [("not a host",), ("http://x",)])
def test_malformed_operator_settings_fail_when_read(cap: tuple[str, ...]) -> None:
    """A malformed trusted entry or cap entry fails at start-up, not in a run."""
    with pytest.raises(EgressRefused):
        EgressAllowList(cap)
    with pytest.raises(EgressRefused):
        EgressAllowList(TRUSTED, cap=cap)

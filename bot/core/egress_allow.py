"""The allow-list of one setup (pure, no I/O): the operator's trusted entries plus a repository's
`network.allow` entries, each of which must lie within the operator's cap.

The cap (`ORCHESTRATE_NETWORK_ALLOW_REPOS`) is a list of allow-list entries, or `*` for any
public host name. A repository entry lies within a cap entry when every destination it allows
is one the cap entry allows: the same host (or a name below a wildcard cap), and a port the
cap allows. Whatever the cap says, a repository entry never reaches a non-public address
(bot/core/egress_policy.py refuses that when the list is built and again on every connection).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.egress_policy import DEFAULT_PORTS, AllowRule, EgressPolicy, EgressRefused, parse_rule

__all__ = ["ANY_PUBLIC_HOST", "EgressAllowList", "split_entries"]

ANY_PUBLIC_HOST = "*"
MAX_REPO_ENTRIES = 50


def split_entries(text: str) -> tuple[str, ...]:
    """Entries from a setting: separated by commas or whitespace, empty ones dropped."""
    return tuple(entry for entry in re.split(r"[\s,]+", text) if entry)


@dataclass(frozen=True)
class EgressAllowList:
    """The operator's side: `trusted` entries (any address they name) and the `cap` on what a
    repository may add."""

    trusted: tuple[str, ...]
    cap: tuple[str, ...] = (ANY_PUBLIC_HOST,)

    def __post_init__(self) -> None:
        EgressPolicy.build(self.trusted)  # a malformed setting fails at start-up
        for entry in self.cap:
            if entry != ANY_PUBLIC_HOST:
                parse_rule(entry, trusted=True)

    def entries(self, repository: Sequence[str]) -> tuple[str, ...]:
        """The setup's entries, trusted first; raises EgressRefused naming the repository
        entry that is malformed, non-public or outside the cap."""
        if len(repository) > MAX_REPO_ENTRIES:
            raise EgressRefused(f"network.allow lists more than {MAX_REPO_ENTRIES} entries")
        caps = [parse_rule(entry, trusted=True) for entry in self.cap if entry != ANY_PUBLIC_HOST]
        for entry in repository:
            rule = parse_rule(entry, trusted=False)
            if ANY_PUBLIC_HOST not in self.cap and not any(_within(rule, cap) for cap in caps):
                raise EgressRefused(
                    f"network.allow entry {entry!r} is outside what this app's operator lets "
                    "repositories allow (ORCHESTRATE_NETWORK_ALLOW_REPOS)"
                )
        return (*self.trusted, *repository)

    def policy(self, repository: Sequence[str]) -> EgressPolicy:
        self.entries(repository)
        return EgressPolicy.build(self.trusted, repository)


def _within(rule: AllowRule, cap: AllowRule) -> bool:
    if not _ports_within(rule.port, cap.port):
        return False
    if rule.ip is not None or cap.ip is not None:
        return rule.ip is not None and rule.ip == cap.ip
    if cap.wildcard:
        return rule.host.endswith("." + cap.host)  # a wildcard below a wildcard, or a name
    return not rule.wildcard and rule.host == cap.host


def _ports_within(port: int | None, cap: int | None) -> bool:
    allowed: Iterable[int] = DEFAULT_PORTS if port is None else (port,)
    return all(p in (DEFAULT_PORTS if cap is None else (cap,)) for p in allowed)

"""Which destinations setup commands may reach through the egress proxy (pure, no I/O).

Allow-list entries (operator settings and a repository's `network.allow`):

    pypi.org              that host, ports 443 and 80 only
    registry.npmjs.org:8443   that host, that port only
    *.pythonhosted.org    any name below the suffix (not the suffix itself), ports 443 and 80
    127.0.0.1:8080        an IPv4 literal; `[::1]:8080` an IPv6 literal

Destinations are compared in one canonical form, so no spelling reaches a host the list does
not name: names are lowercase LDH labels without a trailing dot; IPv4 only as four decimal
octets (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1` are refused, as is any name whose last
label is all digits); IPv6 only in brackets, without a zone; no userinfo, percent-escapes or
backslashes; ports in plain decimal. A wildcard never matches an IP literal.

Names are resolved by the proxy on the host and every resolved address is checked: a
loopback, private, link-local, multicast, reserved or unspecified address (IPv4-mapped IPv6
included) is refused unless the matching entry is a trusted (operator) exact entry: an IP
literal naming that address or an exact host name. Repository entries never reach such
addresses (a DNS name that rebinds to 127.0.0.1 reaches nothing), and a repository entry that
is itself a non-public IP literal is refused when the list is built.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.errors import SandboxError

__all__ = [
    "DEFAULT_PORTS",
    "AllowRule",
    "EgressPolicy",
    "EgressRefused",
    "IPAddress",
    "Target",
    "parse_rule",
    "parse_target",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = (443, 80)
CONFIG_KEY = "network.allow in .github/orchestrate.yml"

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_AUTHORITY_CHARS = re.compile(r"[A-Za-z0-9.\-:\[\]]+")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_MAX_NAME = 253


class EgressRefused(SandboxError):
    """A destination the proxy will not connect to; `status` is the HTTP answer it gives."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    """A destination in canonical form: `host` is a lowercase name or the IP's text."""

    host: str
    port: int
    ip: IPAddress | None = None

    def authority(self) -> str:
        host = f"[{self.host}]" if isinstance(self.ip, ipaddress.IPv6Address) else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class AllowRule:
    """One allow-list entry. `trusted`: from the operator, so it may name non-public hosts."""

    host: str
    port: int | None = None  # None: DEFAULT_PORTS
    wildcard: bool = False
    ip: IPAddress | None = None
    trusted: bool = False

    def matches(self, target: Target) -> bool:
        if not (target.port in DEFAULT_PORTS if self.port is None else target.port == self.port):
            return False
        if self.ip is not None or target.ip is not None:
            return self.ip is not None and self.ip == target.ip
        if self.wildcard:
            return target.host.endswith("." + self.host)
        return target.host == self.host

    def reaches_non_public(self) -> bool:
        """Whether this rule may lead to a non-public address: only an operator's exact
        entry (an IP literal matches only that IP; a name is trusted to resolve rightly)."""
        return self.trusted and not self.wildcard

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        if isinstance(self.ip, ipaddress.IPv6Address):
            host = f"[{host}]"
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True)
class EgressPolicy:
    rules: tuple[AllowRule, ...]

    @classmethod
    def build(cls, trusted: Iterable[str], untrusted: Iterable[str] = ()) -> EgressPolicy:
        """The operator's entries (`trusted`) plus a repository's; raises EgressRefused on a
        malformed entry or a repository entry that names a non-public IP."""
        rules = [parse_rule(entry, trusted=True) for entry in trusted]
        rules += [parse_rule(entry, trusted=False) for entry in untrusted]
        return cls(tuple(rules))

    def rule_for(self, target: Target) -> AllowRule:
        """The first rule that allows `target`; raises EgressRefused (403) when none does."""
        for rule in self.rules:
            if rule.matches(target):
                return rule
        suggestion = target.host if target.port in DEFAULT_PORTS else target.authority()
        raise EgressRefused(
            f"{target.authority()} is not on the egress allow-list. Setup commands reach only "
            f"allow-listed hosts; to allow this one, add {suggestion!r} to {CONFIG_KEY}."
        )

    def check_addresses(
        self, target: Target, rule: AllowRule, addresses: Sequence[IPAddress]
    ) -> list[IPAddress]:
        """The addresses to connect to, all of them allowed; raises EgressRefused when the
        name resolved to nothing or to any address `rule` may not reach."""
        if not addresses:
            raise EgressRefused(f"{target.authority()} did not resolve to any address", 502)
        checked = [_unmapped(address) for address in addresses]
        for address in checked:
            if not is_public(address) and not rule.reaches_non_public():
                raise EgressRefused(
                    f"{target.authority()} resolves to {address}, a loopback, private, "
                    "link-local or otherwise non-public address; only the worker's operator "
                    "can allow such a destination, by naming it exactly."
                )
        return checked


def is_public(address: IPAddress) -> bool:
    """Whether `address` is an ordinary public unicast address; one that embeds an IPv4
    address a relay would deliver to (6to4, Teredo) only when that address is public too."""
    address = _unmapped(address)
    special = (
        address.is_private,
        address.is_loopback,
        address.is_link_local,
        address.is_multicast,
        address.is_reserved,
        address.is_unspecified,
    )
    embedded = _embedded_ipv4(address)
    return address.is_global and not any(special) and all(map(is_public, embedded))


def parse_rule(entry: str, *, trusted: bool) -> AllowRule:
    """One allow-list entry; raises EgressRefused (with the entry quoted) when malformed."""
    text = entry.strip()
    wildcard = text.startswith("*.")
    try:
        target = parse_authority(text[2:] if wildcard else text, default_port=0)
    except EgressRefused as exc:
        raise EgressRefused(f"invalid egress allow-list entry {entry!r}: {exc}") from None
    port = target.port or None
    if wildcard and (target.ip is not None or target.host.count(".") < 1):
        raise EgressRefused(
            f"invalid egress allow-list entry {entry!r}: a wildcard needs a "
            "domain of at least two labels (e.g. *.example.org)"
        )
    if target.ip is not None and not trusted and not is_public(target.ip):
        raise EgressRefused(
            f"egress allow-list entry {entry!r} names a non-public address; "
            "only the worker's operator can allow those"
        )
    return AllowRule(target.host, port, wildcard, target.ip, trusted)


def parse_target(request_target: str, *, connect: bool) -> Target:
    """The destination of a CONNECT (`host:port`) or an absolute-form `http://` request."""
    if connect:
        target = parse_authority(request_target, default_port=0)
        if target.port == 0:
            raise EgressRefused("CONNECT needs host:port", 400)
        return target
    if not request_target[:7].lower() == "http://":
        raise EgressRefused("only absolute http:// request targets and CONNECT are proxied", 400)
    authority = re.split(r"[/?#]", request_target[7:], maxsplit=1)[0]
    return parse_authority(authority, default_port=80)


def parse_authority(text: str, *, default_port: int) -> Target:
    """`host[:port]` in canonical form (see the module docstring); raises EgressRefused."""
    if not text or len(text) > _MAX_NAME + 8 or not _AUTHORITY_CHARS.fullmatch(text):
        raise EgressRefused(f"not a plain host[:port]: {printable(text)!r}", 400)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise EgressRefused(f"unterminated IPv6 literal: {printable(text)!r}", 400)
        host_text, rest = text[1:end], text[end + 1 :]
        ip: IPAddress | None = _ipv6(host_text)
        host = str(ip)
    else:
        host_text, colon, port_text = text.partition(":")
        rest = colon + port_text
        ip, host = _host(host_text)
    port = _port(rest[1:]) if rest.startswith(":") else default_port
    if rest and not rest.startswith(":"):
        raise EgressRefused(f"not a plain host[:port]: {printable(text)!r}", 400)
    return Target(host, port, ip)


def printable(text: str, limit: int = 120) -> str:
    """`text` with anything but printable ASCII replaced, capped: safe to echo or record."""
    cleaned = "".join(ch if " " <= ch <= "~" else "?" for ch in text[:limit])
    return cleaned + ("..." if len(text) > limit else "")


def _host(text: str) -> tuple[IPAddress | None, str]:
    lowered = text.lower()
    try:
        ip = ipaddress.IPv4Address(lowered)  # four plain decimal octets only
    except ValueError:
        pass
    else:
        return ip, str(ip)
    if _inet_aton_accepts(lowered):
        raise EgressRefused(f"not a canonical IPv4 address: {printable(text)!r}", 400)
    labels = lowered.split(".")
    if len(lowered) > _MAX_NAME or not all(_LABEL.fullmatch(label) for label in labels):
        raise EgressRefused(f"not a valid host name: {printable(text)!r}", 400)
    if labels[-1].isdigit():
        raise EgressRefused(f"not a valid host name (numeric last label): {printable(text)!r}", 400)
    return None, lowered


def _inet_aton_accepts(text: str) -> bool:
    """glibc's resolver reads `127.1`, `0x7f000001` or `2130706433` as addresses."""
    try:
        socket.inet_aton(text)
    except OSError:
        return False
    return True


def _ipv6(text: str) -> ipaddress.IPv6Address:
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise EgressRefused(f"not an IPv6 address: {printable(text)!r}", 400) from None


def _port(text: str) -> int:
    if not _PORT.fullmatch(text) or int(text) > 65535:
        raise EgressRefused(f"not a valid port: {printable(text)!r}", 400)
    return int(text)


def _embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address, ...]:
    if not isinstance(address, ipaddress.IPv6Address):
        return ()
    if address.sixtofour is not None:
        return (address.sixtofour,)
    return address.teredo or ()  # (server, client)


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address

"""Egress allow-list rules and request parsing, without sockets: the canonical forms, what
matches what, and the exact refusals."""

from __future__ import annotations

import ipaddress

import pytest

from bot.core.egress_policy import (
    AllowRule,
    EgressPolicy,
    EgressRefused,
    Target,
    is_public,
    parse_rule,
    parse_target,
)
from bot.core.egress_request import parse_request_head


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        ("pypi.org", AllowRule("pypi.org", None, False, None, True)),
        ("PyPI.org:8443", AllowRule("pypi.org", 8443, False, None, True)),
        ("*.pythonhosted.org", AllowRule("pythonhosted.org", None, True, None, True)),
        (" *.example.org:444 ", AllowRule("example.org", 444, True, None, True)),
        (
            "127.0.0.1:3141",
            AllowRule("127.0.0.1", 3141, False, ipaddress.ip_address("127.0.0.1"), True),
        ),
        ("[::1]:3141", AllowRule("::1", 3141, False, ipaddress.ip_address("::1"), True)),
    ],
)
def test_entries_parse_to_canonical_rules(entry: str, rule: AllowRule) -> None:
    """Entries are lowercased and split into host, port, wildcard and IP."""
    assert parse_rule(entry, trusted=True) == rule


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("*", "invalid egress allow-list entry '*': not a plain host[:port]: '*'"),
        (
            "*.org",
            "invalid egress allow-list entry '*.org': a wildcard needs a domain of at least two labels (e.g. *.example.org)",
        ),
        (
            "*.127.0.0.1",
            "invalid egress allow-list entry '*.127.0.0.1': a wildcard needs a domain of at least two labels (e.g. *.example.org)",
        ),
        ("pypi.org:0", "invalid egress allow-list entry 'pypi.org:0': not a valid port: '0'"),
        (
            "pypi.org:70000",
            "invalid egress allow-list entry 'pypi.org:70000': not a valid port: '70000'",
        ),
        (
            "http://pypi.org",
            "invalid egress allow-list entry 'http://pypi.org': not a plain host[:port]: 'http://pypi.org'",
        ),
        (
            "pypi.org.",
            "invalid egress allow-list entry 'pypi.org.': not a valid host name: 'pypi.org.'",
        ),
        (
            "py_pi.org",
            "invalid egress allow-list entry 'py_pi.org': not a plain host[:port]: 'py_pi.org'",
        ),
        (
            "a.*.org",
            "invalid egress allow-list entry 'a.*.org': not a plain host[:port]: 'a.*.org'",
        ),
        (
            "0x7f000001",
            "invalid egress allow-list entry '0x7f000001': not a canonical IPv4 address: '0x7f000001'",
        ),
    ],
)
def test_malformed_entries_are_refused_with_the_entry(entry: str, message: str) -> None:
    """A bad entry is refused with a message quoting it."""
    with pytest.raises(EgressRefused) as caught:
        parse_rule(entry, trusted=True)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "entry", ["127.0.0.1:8080", "10.0.0.5", "[::1]:80", "169.254.169.254", "[::ffff:127.0.0.1]:80"]
)
def test_repository_entries_cannot_name_non_public_addresses(entry: str) -> None:
    """Only the operator may allow a loopback, private or link-local IP; a repository's
    `network.allow` naming one is refused when the policy is built."""
    with pytest.raises(
        EgressRefused, match="names a non-public address; only the worker's operator"
    ):
        EgressPolicy.build(["pypi.org"], [entry])
    assert EgressPolicy.build([entry]).rules[0].trusted


@pytest.mark.parametrize(
    ("rule", "target", "matches"),
    [
        ("pypi.org", "pypi.org:443", True),
        ("pypi.org", "pypi.org:80", True),
        ("pypi.org", "pypi.org:22", False),
        ("pypi.org", "www.pypi.org:443", False),
        ("pypi.org", "evilpypi.org:443", False),
        ("pypi.org:8443", "pypi.org:443", False),
        ("pypi.org:8443", "pypi.org:8443", True),
        ("*.pythonhosted.org", "files.pythonhosted.org:443", True),
        ("*.pythonhosted.org", "a.b.pythonhosted.org:443", True),
        ("*.pythonhosted.org", "pythonhosted.org:443", False),
        ("*.pythonhosted.org", "evilpythonhosted.org:443", False),
        ("127.0.0.1:9000", "127.0.0.1:9000", True),
        ("127.0.0.1:9000", "[::ffff:7f00:1]:9000", False),
        ("127.0.0.1:9000", "localhost:9000", False),
        ("[::1]:9000", "[0:0:0:0:0:0:0:1]:9000", True),
    ],
)
def test_rule_matching(rule: str, target: str, matches: bool) -> None:
    """Exact names, default ports, wildcards below a suffix only, IPs by value."""
    assert parse_rule(rule, trusted=True).matches(parse_target(target, connect=True)) is matches


@pytest.mark.parametrize(
    ("request_target", "connect", "expected"),
    [
        ("PyPI.org:443", True, Target("pypi.org", 443)),
        ("[::1]:8080", True, Target("::1", 8080, ipaddress.ip_address("::1"))),
        ("http://pypi.org/simple/", False, Target("pypi.org", 80)),
        ("HTTP://pypi.org:8080?x", False, Target("pypi.org", 8080)),
        ("http://127.0.0.1#x", False, Target("127.0.0.1", 80, ipaddress.ip_address("127.0.0.1"))),
    ],
)
def test_targets_parse_to_canonical_form(
    request_target: str, connect: bool, expected: Target
) -> None:
    """CONNECT authorities and absolute http:// URIs give one canonical destination."""
    assert parse_target(request_target, connect=connect) == expected


@pytest.mark.parametrize(
    ("request_target", "connect", "message"),
    [
        ("pypi.org", True, "CONNECT needs host:port"),
        ("/simple/", False, "only absolute http:// request targets and CONNECT are proxied"),
        (
            "https://pypi.org/",
            False,
            "only absolute http:// request targets and CONNECT are proxied",
        ),
        ("http://user:pw@pypi.org/", False, "not a plain host[:port]: 'user:pw@pypi.org'"),
        ("http://pypi.org%2eevil/", False, "not a plain host[:port]: 'pypi.org%2eevil'"),
        ("http://1.2.3.4.5/", False, "not a valid host name (numeric last label): '1.2.3.4.5'"),
        ("http://evil.123/", False, "not a valid host name (numeric last label): 'evil.123'"),
        ("http://[::1/", False, "unterminated IPv6 literal: '[::1'"),
        ("http://[::1]x/", False, "not a plain host[:port]: '[::1]x'"),
        ("http://[1.2.3.4]/", False, "not an IPv6 address: '1.2.3.4'"),
        ("http://a..b/", False, "not a valid host name: 'a..b'"),
        ("http://-a.example/", False, "not a valid host name: '-a.example'"),
        (f"http://{'a' * 64}.example/", False, f"not a valid host name: '{'a' * 64}.example'"),
        ("pypi.org:+443", True, "not a plain host[:port]: 'pypi.org:+443'"),
        ("pypi.org:443:1", True, "not a valid port: '443:1'"),
    ],
)
def test_unusual_targets_are_refused_with_400(
    request_target: str, connect: bool, message: str
) -> None:
    """Anything but a canonical host[:port] is a malformed request, refused before matching."""
    with pytest.raises(EgressRefused) as caught:
        parse_target(request_target, connect=connect)
    assert (caught.value.status, str(caught.value)) == (400, message)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("151.101.0.223", True),
        ("2a04:4e42::223", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:151.101.0.223", True),
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:9765:df::1", True),  # 6to4 of 151.101.0.223
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo, client 10.0.0.1
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    """Loopback, private, shared, link-local, multicast, unspecified, and mapped, 6to4 and
    Teredo forms of them are not public."""
    assert is_public(ipaddress.ip_address(address)) is public


def test_a_wildcard_or_repository_rule_never_reaches_non_public_addresses() -> None:
    """check_addresses lets a non-public address through only for an operator's exact rule."""
    loopback = [ipaddress.ip_address("127.0.0.1")]
    target = Target("idx.example", 3141)
    operator = EgressPolicy.build(["idx.example:3141", "*.idx.example:3141"])
    repository = EgressPolicy.build([], ["idx.example:3141"])
    assert operator.check_addresses(target, operator.rules[0], loopback) == loopback
    for policy, rule in [(operator, operator.rules[1]), (repository, repository.rules[0])]:
        with pytest.raises(EgressRefused, match=r"resolves to 127\.0\.0\.1"):
            policy.check_addresses(target, rule, loopback)
    with pytest.raises(EgressRefused, match="did not resolve to any address"):
        operator.check_addresses(target, operator.rules[0], [])


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (
            b"GET http://a.example/ HTTP/2.0\r\n\r\n",
            "malformed request line: 'GET http://a.example/ HTTP/2.0'",
        ),
        (
            b"GET  http://a.example/ HTTP/1.1\r\n\r\n",
            "malformed request line: 'GET  http://a.example/ HTTP/1.1'",
        ),
        (
            b"GET http://a.example/ HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            "malformed header line: ' folded'",
        ),
        (
            b"GET http://a.example/ HTTP/1.1\r\nX: a\nHost: b\r\n\r\n",
            "bare CR, LF or NUL in the request head",
        ),
        (
            b"GET http://a.example/ HTTP/1.1\r\nX: a\x00\r\n\r\n",
            "bare CR, LF or NUL in the request head",
        ),
        (
            b"GET http://a.example/ HTTP/1.1\r\nBad Name: a\r\n\r\n",
            "malformed header line: 'Bad Name: a'",
        ),
        (
            b"GET http://a.example/ HTTP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n",
            "more than 100 header lines",
        ),
    ],
)
def test_malformed_request_heads_are_refused(head: bytes, message: str) -> None:
    """The request head is parsed strictly; each malformation has its own message."""
    with pytest.raises(EgressRefused) as caught:
        parse_request_head(head)
    assert (caught.value.status, str(caught.value)) == (400, message)


def test_forwarded_head_drops_hop_by_hop_and_proxy_headers() -> None:
    """Host comes from the URI, headers named in Connection and proxy headers are dropped,
    and the request ends the connection."""
    request = parse_request_head(
        b"get http://Idx.Example:8080?q=1 HTTP/1.0\r\nHost: other.example\r\n"
        b"Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nProxy-Authorization: p\r\n"
        b"Accept: text/html\r\n\r\n"
    )
    target = parse_target(request.target, connect=False)
    assert request.forwarded_head(target) == (
        b"GET /?q=1 HTTP/1.1\r\nHost: idx.example:8080\r\nAccept: text/html\r\n"
        b"Connection: close\r\n\r\n"
    )

"""The egress proxy on a UNIX socket against real loopback servers: what it lets through,
what it refuses (and says), and its bounds."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import stat
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

from bot.core.egress_policy import EgressPolicy, IPAddress
from bot.sandbox.egress_proxy import EgressProxy, ProxyLimits
from tests.support.loopback import (
    LoopbackServer,
    echo_server,
    exchange,
    http_server,
    short_socket_dir,
)

ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


class FakeDns:
    """A resolver answering from a table, remembering what it was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        return [ipaddress.ip_address(a) for a in self.table.get(host, [])]


@pytest.fixture
async def echo() -> AsyncIterator[LoopbackServer]:
    async with echo_server() as server:
        yield server


@pytest.fixture
async def web() -> AsyncIterator[LoopbackServer]:
    async with http_server() as server:
        yield server


@pytest.fixture
def sock() -> Iterator[Path]:
    with short_socket_dir() as directory:
        yield directory / "egress.sock"


async def _tunnel(sock: Path, target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    assert await reader.readexactly(len(ESTABLISHED)) == ESTABLISHED
    return reader, writer


def _status_and_body(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode()


async def test_connect_to_allowed_host_tunnels_bytes(sock: Path, echo: LoopbackServer) -> None:
    """An allowed CONNECT gets 200 and a tunnel that carries bytes both ways; the decision
    and the byte counts are recorded."""
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{echo.port}"]))
    async with proxy.serving(sock):
        reader, writer = await _tunnel(sock, f"127.0.0.1:{echo.port}")
        writer.write(b"ping over the tunnel")
        assert await reader.readexactly(20) == b"ping over the tunnel"
        writer.close()
        await asyncio.sleep(0.05)
    [record] = proxy.records
    assert (record.host, record.port, record.allowed) == ("127.0.0.1", echo.port, True)
    assert (record.bytes_sent, record.bytes_received) == (20, 20)
    assert proxy.summary() == [f"reached 127.0.0.1:{echo.port} (1 connection, 40 bytes)"]


async def test_plain_http_is_forwarded_with_host_from_the_uri(
    sock: Path, web: LoopbackServer
) -> None:
    """An absolute-form request reaches the origin in origin-form, with Host taken from the
    URI (not the client's Host header), proxy headers dropped and Connection: close."""
    request = (
        f"GET http://127.0.0.1:{web.port}/simple/pkg/?x=1#frag HTTP/1.1\r\n"
        "Host: evil.example\r\nProxy-Authorization: Basic c2VjcmV0\r\n"
        "Proxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n"
    )
    async with EgressProxy(EgressPolicy.build([f"127.0.0.1:{web.port}"])).serving(sock):
        status, body = _status_and_body(await exchange(sock, request.encode()))
    assert (status, body) == (200, "hello from the host\n")
    assert web.requests == [
        {
            "line": "GET /simple/pkg/?x=1 HTTP/1.1",
            "headers": ["host", "accept", "connection"],
            "host": [f"127.0.0.1:{web.port}"],
        }
    ]


async def test_denied_host_gets_403_naming_it(sock: Path) -> None:
    """A host not on the list is refused before any lookup, with a body that names it and
    says how to allow it."""
    dns = FakeDns({"denied.example": ["93.184.216.34"]})
    proxy = EgressProxy(EgressPolicy.build(["pypi.org"]), resolver=dns)
    async with proxy.serving(sock):
        answer = await exchange(sock, b"CONNECT denied.example:443 HTTP/1.1\r\n\r\n")
    assert _status_and_body(answer) == (
        403,
        "orchestrate egress proxy: denied.example:443 is not on the egress allow-list. Setup "
        "commands reach only allow-listed hosts; to allow this one, add 'denied.example' to "
        "network.allow in .github/orchestrate.yml.\n",
    )
    assert dns.asked == []
    assert proxy.summary()[0].startswith("refused denied.example:443 (1 connection): ")


@pytest.mark.parametrize(
    ("target", "status", "reason"),
    [
        ("2130706433:{port}", 400, "not a canonical IPv4 address: '2130706433'"),
        ("0x7f000001:{port}", 400, "not a canonical IPv4 address: '0x7f000001'"),
        ("0177.0.0.1:{port}", 400, "not a canonical IPv4 address: '0177.0.0.1'"),
        ("127.1:{port}", 400, "not a canonical IPv4 address: '127.1'"),
        ("127.0.0.1.:{port}", 400, "not a valid host name: '127.0.0.1.'"),
        ("localhost.:{port}", 400, "not a valid host name: 'localhost.'"),
        ("localhost:{port}", 403, "localhost:{port} is not on the egress allow-list"),
        ("[::1]:{port}", 403, "[::1]:{port} is not on the egress allow-list"),
        ("[::ffff:127.0.0.1]:{port}", 403, "[::ffff:7f00:1]:{port} is not on the egress"),
        ("[fe80::1%lo]:{port}", 400, "not a plain host[:port]: '[fe80::1%lo]:{port}'"),
        ("user@127.0.0.1:{port}", 400, "not a plain host[:port]: 'user@127.0.0.1:{port}'"),
        ("127.0.0.1:0{port}", 400, "not a valid port: '0{port}'"),
        ("127.0.0.1", 400, "CONNECT needs host:port"),
    ],
)
async def test_ip_spellings_never_reach_a_host_by_trickery(
    sock: Path, echo: LoopbackServer, target: str, status: int, reason: str
) -> None:
    """Only the canonical spelling `127.0.0.1:<port>` is allowed; every other spelling of a
    loopback address is refused with its reason and the server never sees a connection."""
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{echo.port}"]))
    async with proxy.serving(sock):
        request = f"CONNECT {target.format(port=echo.port)} HTTP/1.1\r\n\r\n".encode()
        got_status, body = _status_and_body(await exchange(sock, request))
    assert got_status == status
    assert reason.format(port=echo.port) in body
    assert echo.connections == 0


@pytest.mark.parametrize(
    "request_text",
    [
        # The Host header names the allowed server, the URI another: the URI decides.
        "GET http://127.0.0.2:{port}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        # Origin-form with an allowed Host header: not a proxy request at all.
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        # userinfo and backslash tricks in the authority.
        "GET http://127.0.0.1:{port}@127.0.0.2:{port}/ HTTP/1.1\r\n\r\n",
        "GET http://127.0.0.2:{port}\\@127.0.0.1:{port}/ HTTP/1.1\r\n\r\n",
        "GET https://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n",
    ],
)
async def test_host_header_never_decides(
    sock: Path, web: LoopbackServer, request_text: str
) -> None:
    """Plain-HTTP requests are judged on the absolute URI's authority alone."""
    async with EgressProxy(EgressPolicy.build([f"127.0.0.1:{web.port}"])).serving(sock):
        answer = await exchange(sock, request_text.format(port=web.port).encode())
    assert _status_and_body(answer)[0] in (400, 403)
    assert web.connections == 0


async def test_dns_rebinding_to_loopback_is_refused_unless_trusted_and_exact(
    sock: Path, echo: LoopbackServer
) -> None:
    """A name that resolves to 127.0.0.1 is refused for a repository's entry and for any
    wildcard, and reached only through an operator's exact entry; the check is on every
    address of a mixed answer."""
    dns = FakeDns(
        {
            "rebind.example": ["127.0.0.1"],
            "a.wild.example": ["127.0.0.1"],
            "mixed.example": ["93.184.216.34", "127.0.0.1"],
        }
    )
    port = echo.port
    repo = EgressPolicy.build([], [f"rebind.example:{port}", f"mixed.example:{port}"])
    wildcard = EgressPolicy.build([f"*.wild.example:{port}"])
    operator = EgressPolicy.build([f"rebind.example:{port}"])
    answers = []
    for policy, host in [
        (repo, "rebind.example"),
        (repo, "mixed.example"),
        (wildcard, "a.wild.example"),
    ]:
        async with EgressProxy(policy, resolver=dns).serving(sock):
            answers.append(await exchange(sock, f"CONNECT {host}:{port} HTTP/1.1\r\n\r\n".encode()))
    for host, answer in zip(
        ["rebind.example", "mixed.example", "a.wild.example"], answers, strict=True
    ):
        assert _status_and_body(answer) == (
            403,
            f"orchestrate egress proxy: {host}:{port} resolves to 127.0.0.1, a loopback, "
            "private, link-local or otherwise non-public address; only the worker's operator "
            "can allow such a destination, by naming it exactly.\n",
        )
    assert echo.connections == 0
    async with EgressProxy(operator, resolver=dns).serving(sock):
        reader, writer = await _tunnel(sock, f"rebind.example:{port}")
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        writer.close()


async def test_oversized_header_block_gets_431(sock: Path, web: LoopbackServer) -> None:
    """A header block over max_header_bytes is answered 431 and forwarded nowhere."""
    proxy = EgressProxy(
        EgressPolicy.build([f"127.0.0.1:{web.port}"]), limits=ProxyLimits(max_header_bytes=4096)
    )
    request = f"GET http://127.0.0.1:{web.port}/ HTTP/1.1\r\nX-Big: {'a' * 5000}\r\n\r\n"
    async with proxy.serving(sock):
        answer = await exchange(sock, request.encode())
    assert _status_and_body(answer) == (
        431,
        "orchestrate egress proxy: request header block is over 4096 bytes\n",
    )
    assert web.connections == 0


async def test_slow_headers_get_408(sock: Path) -> None:
    """A client that never finishes its headers is answered 408 after header_timeout_s."""
    proxy = EgressProxy(EgressPolicy.build([]), limits=ProxyLimits(header_timeout_s=0.2))
    async with proxy.serving(sock):
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b"CONNECT pypi.org:443 HTTP/1.1\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    assert _status_and_body(answer)[0] == 408


async def test_connections_past_the_limit_get_503(sock: Path, echo: LoopbackServer) -> None:
    """With max_connections open tunnels, the next connection is answered 503; once one
    closes, a new tunnel works again."""
    proxy = EgressProxy(
        EgressPolicy.build([f"127.0.0.1:{echo.port}"]), limits=ProxyLimits(max_connections=4)
    )
    async with proxy.serving(sock):
        tunnels = [await _tunnel(sock, f"127.0.0.1:{echo.port}") for _ in range(4)]
        refused = await exchange(sock, f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\n\r\n".encode())
        assert _status_and_body(refused) == (
            503,
            "orchestrate egress proxy: too many concurrent connections through the proxy\n",
        )
        tunnels[0][1].close()
        await asyncio.sleep(0.1)
        reader, writer = await _tunnel(sock, f"127.0.0.1:{echo.port}")
        writer.write(b"again")
        assert await reader.readexactly(5) == b"again"
        for _, other in [*tunnels[1:], (reader, writer)]:
            other.close()


async def test_many_concurrent_tunnels_each_carry_their_own_bytes(
    sock: Path, echo: LoopbackServer
) -> None:
    """Sixty tunnels at once under the default limit each echo their own payload."""
    proxy = EgressProxy(EgressPolicy.build([f"127.0.0.1:{echo.port}"]))

    async def one(n: int) -> bytes:
        reader, writer = await _tunnel(sock, f"127.0.0.1:{echo.port}")
        payload = f"payload {n} ".encode() * 1000
        writer.write(payload)
        try:
            return await reader.readexactly(len(payload))
        finally:
            writer.close()

    async with proxy.serving(sock):
        echoed = await asyncio.gather(*(one(n) for n in range(60)))
    assert echoed == [f"payload {n} ".encode() * 1000 for n in range(60)]
    assert echo.connections == 60


async def test_idle_tunnel_is_closed(sock: Path, echo: LoopbackServer) -> None:
    """A tunnel with no byte either way for idle_timeout_s is closed by the proxy."""
    proxy = EgressProxy(
        EgressPolicy.build([f"127.0.0.1:{echo.port}"]), limits=ProxyLimits(idle_timeout_s=0.2)
    )
    async with proxy.serving(sock):
        reader, writer = await _tunnel(sock, f"127.0.0.1:{echo.port}")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_unreachable_allowed_port_gets_502(sock: Path) -> None:
    """An allowed destination with nothing listening is answered 502 with the reason."""
    async with echo_server() as gone:
        port = gone.port
    async with EgressProxy(EgressPolicy.build([f"127.0.0.1:{port}"])).serving(sock):
        answer = await exchange(sock, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
    assert _status_and_body(answer) == (
        502,
        f"orchestrate egress proxy: cannot reach 127.0.0.1:{port}: Connect call failed "
        f"('127.0.0.1', {port})\n",
    )


async def test_socket_is_private_and_removed_on_close(sock: Path) -> None:
    """The socket file is mode 0600 while serving and gone afterwards."""
    async with EgressProxy(EgressPolicy.build([])).serving(sock):
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert not sock.exists()


async def test_malformed_request_line_gets_400(sock: Path) -> None:
    """Garbage instead of a request line is refused with 400 and recorded nowhere."""
    proxy = EgressProxy(EgressPolicy.build([]))
    async with proxy.serving(sock):
        answer = await exchange(sock, b"\x16\x03\x01 hello\r\n\r\n")
    assert _status_and_body(answer)[0] == 400
    assert proxy.records == []


def test_records_are_bounded() -> None:
    """Past max_records, decisions are counted, not kept."""
    proxy = EgressProxy(EgressPolicy.build([]), limits=ProxyLimits(max_records=2))
    from bot.sandbox.egress_proxy import EgressRecord

    for n in range(5):
        proxy._record(EgressRecord(f"h{n}.example", 443, False, "no"))
    assert [r.host for r in proxy.records] == ["h0.example", "h1.example"]
    assert proxy.summary()[-1] == "... and 3 more connections not recorded"
    assert json.dumps(proxy.summary())  # plain strings

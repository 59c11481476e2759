"""The request head a client sends the egress proxy: parsed strictly, and rewritten for the
origin server (pure, no I/O).

Strict means: CRLF line ends, one request line `METHOD SP target SP HTTP/1.x`, header lines
`name: value` with token names, no obsolete line folding, no bare CR, LF or NUL, at most
`MAX_HEADERS` headers. Anything else is refused with a 400 before a destination is looked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.egress_policy import EgressRefused, Target, printable

__all__ = ["MAX_HEADERS", "ProxyRequest", "parse_request_head"]

MAX_HEADERS = 100
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(rf"({_TOKEN}) ([\x21-\x7e]+) HTTP/1\.[01]")
_HEADER_LINE = re.compile(rf"({_TOKEN}):[ \t]*(.*?)[ \t]*")
# Hop-by-hop and proxy-only headers never reach the origin; Host is rebuilt from the URI.
_DROPPED = frozenset(
    {
        "host",
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
    }
)


@dataclass(frozen=True)
class ProxyRequest:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]

    def forwarded_head(self, target: Target) -> bytes:
        """The head for the origin server: origin-form target, `Host` from the URI's
        authority (never the client's Host header), `Connection: close`."""
        rest = self.target[len("http://") :]
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        path = rest[cut:].split("#", 1)[0] or "/"
        if path.startswith("?"):
            path = "/" + path
        named = {
            part.strip().lower()
            for name, value in self.headers
            if name.lower() == "connection"
            for part in value.split(",")
        }
        host = target.authority().removesuffix(":80")
        lines = [f"{self.method} {path} HTTP/1.1", f"Host: {host}"]
        lines += [
            f"{name}: {value}"
            for name, value in self.headers
            if name.lower() not in _DROPPED and name.lower() not in named
        ]
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_request_head(head: bytes) -> ProxyRequest:
    """The request in `head` (ending with the blank line); raises EgressRefused (400)."""
    text = head.decode("latin-1")
    lines = text[: -len("\r\n\r\n")].split("\r\n")
    if any(ch in line for line in lines for ch in "\r\n\0"):
        raise EgressRefused("bare CR, LF or NUL in the request head", 400)
    request_line = _REQUEST_LINE.fullmatch(lines[0])
    if request_line is None:
        raise EgressRefused(f"malformed request line: {printable(lines[0])!r}", 400)
    if len(lines) - 1 > MAX_HEADERS:
        raise EgressRefused(f"more than {MAX_HEADERS} header lines", 400)
    headers = []
    for line in lines[1:]:
        field = _HEADER_LINE.fullmatch(line)
        if field is None:  # also obsolete folding: a line starting with a space or tab
            raise EgressRefused(f"malformed header line: {printable(line)!r}", 400)
        headers.append((field.group(1), field.group(2)))
    return ProxyRequest(request_line.group(1).upper(), request_line.group(2), tuple(headers))

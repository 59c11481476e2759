"""Upstream faults the egress proxy sees at allowed destinations: what makes a failed setup
worth trying again (bot/activities/environment.py), and what its failure comment names.

A fault is the upstream's doing, never the client's or the policy's: a connection that could
not be opened (refused, unreachable, timed out, a name lookup that failed for now), a reset,
an upstream that closed or fell silent before answering, a plain-HTTP answer cut short of its
`Content-Length`, and a plain-HTTP answer `5xx` or `429`. Inside a CONNECT tunnel (TLS) only
the connection is seen: its opening, a reset, a close before any byte came back. pip prints
neither a plain-HTTP 5xx nor a 429 without -v, so this count is how a user learns the index
was failing rather than the package missing.
"""

from __future__ import annotations

import re
from collections import Counter

from bot.sandbox.egress_relay import Ended

__all__ = ["MAX_FAULT_LINES", "FaultCounts", "ResponseWatch"]

MAX_FAULT_LINES = 20
_HEAD_BYTES = 16384  # enough of an answer to find its status line and Content-Length
_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,18})[ \t]*\r\n", re.IGNORECASE)


class ResponseWatch:
    """One relayed connection, seen from its bytes: `fault(ended)` says whether the upstream
    failed it. `plain` for forwarded HTTP (an answer is parsed), else a tunnel."""

    def __init__(self, *, plain: bool, expects_body: bool = True) -> None:
        self.plain = plain
        self.expects_body = expects_body
        self.sent = 0
        self.received = 0
        self._head = bytearray()

    def saw(self, upward: bool, chunk: bytes) -> None:
        if upward:
            self.sent += len(chunk)
            return
        self.received += len(chunk)
        if self.plain and len(self._head) < _HEAD_BYTES:
            self._head += chunk[: _HEAD_BYTES - len(self._head)]

    def fault(self, ended: Ended) -> str:
        """The upstream's fault in this connection, or ""."""
        if ended is Ended.RESET:
            return "connection reset"
        if self.received == 0 and (self.plain or self.sent > 0):
            if ended is Ended.EOF:
                return "closed the connection without answering"
            if ended is Ended.IDLE:
                return "did not answer in time"
        if not self.plain:
            return ""
        status, body_length = self._answer()
        if status is not None and (status >= 500 or status == 429):
            return f"answered {status}"
        if ended is Ended.EOF and body_length is not None and self._body_bytes() < body_length:
            return "closed the connection inside an answer"
        return ""

    def _answer(self) -> tuple[int | None, int | None]:
        """The answer's status and its promised body length (None: unknown, or none due)."""
        match = _STATUS_LINE.match(self._head)
        if match is None:
            return None, None
        status = int(match.group(1))
        end = self._head.find(b"\r\n\r\n")
        if end < 0 or status < 200 or not self.expects_body:
            return status, None
        length = _CONTENT_LENGTH.search(self._head, 0, end + 2)
        return status, int(length.group(1)) if length else None

    def _body_bytes(self) -> int:
        return self.received - (self._head.find(b"\r\n\r\n") + 4)


class FaultCounts:
    """Faults per destination and kind: `127.0.0.1:8080: answered 503 (6 times)`."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, authority: str, fault: str) -> None:
        if fault:
            self._counts[(authority, fault)] += 1

    def lines(self) -> list[str]:
        """The most frequent first, at most MAX_FAULT_LINES (and a line for the rest)."""
        ranked = sorted(self._counts.items(), key=lambda item: (-item[1], item[0]))
        lines = [f"{where}: {fault} ({_times(count)})" for (where, fault), count in ranked]
        if len(lines) > MAX_FAULT_LINES:
            rest = len(lines) - MAX_FAULT_LINES
            lines = [*lines[:MAX_FAULT_LINES], f"... and {rest} more kinds of fault"]
        return lines


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"

"""Rate-limit delays from the answers GitHub and the Messages API really send."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from bot.core.ratelimits import github_retry_delay, is_secondary_rate_limit, model_retry_delay

NOW = 1_700_000_000.0
CAP = 900.0
REQUEST_ID = "C0DE:1F2E:3D4C:5B6A:65A0F00D"
PRIMARY_MESSAGE = "API rate limit exceeded for installation ID 42."
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    f"If you reach out to GitHub Support for help, please include the request ID {REQUEST_ID}."
)
ABUSE_MESSAGE = (
    "You have triggered an abuse detection mechanism. Please wait a few minutes before you try "
    "again."
)


def quota(remaining: int, reset_in: float = 1800) -> dict[str, str]:
    """The x-ratelimit-* headers GitHub puts on every REST answer."""
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(5000 - remaining),
        "x-ratelimit-reset": str(int(NOW + reset_in)),
        "x-ratelimit-resource": "core",
        "x-github-request-id": REQUEST_ID,
    }


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + seconds_from_now, UTC), usegmt=True)


GITHUB_CASES = [
    # (why, status, headers, message, expected)
    ("primary 403: until the reset, plus a second", 403, quota(0, 834), PRIMARY_MESSAGE, 835.0),
    ("primary 429: same rule", 429, quota(0, 834), PRIMARY_MESSAGE, 835.0),
    ("primary, reset already past: just after it", 403, quota(0, -30), PRIMARY_MESSAGE, 1.0),
    ("primary, reset an hour away: capped", 403, quota(0, 3600), PRIMARY_MESSAGE, CAP),
    (
        "primary without a reset header: a minute",
        403,
        {"x-ratelimit-remaining": "0"},
        PRIMARY_MESSAGE,
        60.0,
    ),
    (
        "secondary 403 with Retry-After",
        403,
        quota(4987) | {"retry-after": "30"},
        SECONDARY_MESSAGE,
        30.0,
    ),
    (
        "secondary 429 with Retry-After",
        429,
        quota(4987) | {"retry-after": "120"},
        SECONDARY_MESSAGE,
        120.0,
    ),
    (
        "secondary 403 without Retry-After: at least a minute",
        403,
        quota(4987),
        SECONDARY_MESSAGE,
        60.0,
    ),
    ("secondary with remaining 0: until the reset", 403, quota(0, 300), SECONDARY_MESSAGE, 301.0),
    (
        "secondary, Retry-After wins over the reset",
        403,
        quota(0, 300) | {"retry-after": "5"},
        SECONDARY_MESSAGE,
        5.0,
    ),
    (
        "secondary, Retry-After: 0 still a limit",
        403,
        quota(4987) | {"retry-after": "0"},
        SECONDARY_MESSAGE,
        0.0,
    ),
    (
        "secondary, unreadable Retry-After: a minute",
        403,
        quota(4987) | {"retry-after": "soon"},
        SECONDARY_MESSAGE,
        60.0,
    ),
    (
        "secondary, negative Retry-After: a minute",
        403,
        quota(4987) | {"retry-after": "-5"},
        SECONDARY_MESSAGE,
        60.0,
    ),
    (
        "secondary, Retry-After as an HTTP-date",
        403,
        quota(4987) | {"retry-after": http_date(42)},
        SECONDARY_MESSAGE,
        42.0,
    ),
    (
        "secondary, Retry-After beyond the cap",
        403,
        quota(4987) | {"retry-after": "7200"},
        SECONDARY_MESSAGE,
        CAP,
    ),
    (
        "legacy abuse 403 with Retry-After",
        403,
        quota(4990) | {"retry-after": "45"},
        ABUSE_MESSAGE,
        45.0,
    ),
    ("abuse 429 with Retry-After", 429, quota(4990) | {"retry-after": "8"}, ABUSE_MESSAGE, 8.0),
    ("plain 429 with Retry-After", 429, quota(4990) | {"retry-after": "3"}, "", 3.0),
    ("plain 429 with nothing: a minute", 429, quota(4990), "Too Many Requests", 60.0),
    (
        "header names in any case",
        403,
        {"Retry-After": "12", "X-RateLimit-Remaining": "9"},
        SECONDARY_MESSAGE,
        12.0,
    ),
    (
        "403 missing permission: no wait cures it",
        403,
        quota(4990),
        "Resource not accessible by integration",
        None,
    ),
    (
        "403 admin rights: not a limit",
        403,
        quota(4990),
        "Must have admin rights to Repository.",
        None,
    ),
    ("403 with an empty message: not a limit", 403, quota(4990), "", None),
    (
        "404 even with Retry-After: not a limit",
        404,
        quota(0) | {"retry-after": "9"},
        "Not Found",
        None,
    ),
    ("502: not a limit", 502, quota(4990), "Server Error", None),
    ("422: not a limit", 422, quota(4990), "Validation Failed", None),
]


@pytest.mark.parametrize(
    ("status", "headers", "message", "expected"),
    [case[1:] for case in GITHUB_CASES],
    ids=[case[0] for case in GITHUB_CASES],
)
def test_github_retry_delay(
    status: int, headers: dict[str, str], message: str, expected: float | None
) -> None:
    """Each GitHub answer maps to the documented wait (or None when it is no rate limit)."""
    assert github_retry_delay(status, headers, message, NOW, maximum=CAP) == expected


def test_github_retry_delay_reads_httpx_headers() -> None:
    """The adapter's httpx.Headers (a case-insensitive multi-mapping) work as they come."""
    headers = httpx.Headers({"Retry-After": "17", "X-RateLimit-Remaining": "4000"})
    assert github_retry_delay(403, headers, SECONDARY_MESSAGE, NOW, maximum=CAP) == 17.0


@pytest.mark.parametrize(
    ("message", "secondary"),
    [
        (SECONDARY_MESSAGE, True),
        (ABUSE_MESSAGE, True),
        ("you have exceeded a SECONDARY RATE LIMIT", True),
        (PRIMARY_MESSAGE, False),
        ("Resource not accessible by integration", False),
    ],
)
def test_is_secondary_rate_limit(message: str, secondary: bool) -> None:
    """GitHub's current and legacy secondary-limit messages are recognised, nothing else."""
    assert is_secondary_rate_limit(message) is secondary


MODEL_CASES = [
    ("429 with retry-after seconds", 429, {"retry-after": "7"}, 7.0),
    ("529 overloaded with retry-after", 529, {"retry-after": "3"}, 3.0),
    ("503 with retry-after", 503, {"retry-after": "2"}, 2.0),
    (
        "retry-after-ms wins (what the SDK reads first)",
        429,
        {"retry-after-ms": "1500", "retry-after": "9"},
        1.5,
    ),
    ("retry-after as an HTTP-date", 429, {"retry-after": http_date(20)}, 20.0),
    ("HTTP-date in the past: now", 529, {"retry-after": http_date(-20)}, 0.0),
    ("capped", 429, {"retry-after": "86400"}, CAP),
    ("fractional seconds", 429, {"retry-after": "0.25"}, 0.25),
    ("429 without a header: the caller's backoff", 429, {}, None),
    ("529 without a header: the caller's backoff", 529, {"request-id": "req_01"}, None),
    ("unreadable header", 429, {"retry-after": "later"}, None),
    ("500 with retry-after: not a limit", 500, {"retry-after": "5"}, None),
    ("400: not a limit", 400, {"retry-after": "5"}, None),
    ("header case", 429, {"Retry-After": "4"}, 4.0),
]


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [case[1:] for case in MODEL_CASES],
    ids=[case[0] for case in MODEL_CASES],
)
def test_model_retry_delay(status: int, headers: dict[str, str], expected: float | None) -> None:
    """Each Messages API answer maps to the server's requested wait, or None."""
    assert model_retry_delay(status, headers, now=NOW, maximum=CAP) == expected

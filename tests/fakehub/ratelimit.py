"""GitHub's rate-limit answers, as its REST API sends them (status, headers, body).

From "Rate limits for the REST API": a primary limit answers 403 or 429 with
`x-ratelimit-remaining: 0` and the window's `x-ratelimit-reset`; a secondary limit answers 403 or
429 with a message saying so, with or without `retry-after`; the legacy "abuse detection" answer
carries `retry-after`. Messages and request ids copy the ones GitHub returns.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

PRIMARY = "primary"
SECONDARY = "secondary"
SECONDARY_CONTENT = "secondary-content"  # "temporarily blocked from content creation"
ABUSE = "abuse"
KINDS = (PRIMARY, SECONDARY, SECONDARY_CONTENT, ABUSE)

PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/"
    "rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
ABUSE_DOCS = "https://docs.github.com/rest/overview/resources-in-the-rest-api#abuse-rate-limits"
LIMIT = 5000


def request_id() -> str:
    """GitHub's request id shape: five colon-separated upper-case hex groups."""
    return ":".join(secrets.token_hex(n).upper() for n in (2, 2, 3, 3, 4))


def quota_headers(remaining: int, reset_in: float, rid: str) -> dict[str, str]:
    return {
        "x-github-request-id": rid,
        "x-ratelimit-limit": str(LIMIT),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(LIMIT - remaining),
        "x-ratelimit-reset": str(int(time.time() + reset_in)),
        "x-ratelimit-resource": "core",
    }


def message(kind: str, rid: str, installation_id: int) -> str:
    support = f"If you reach out to GitHub Support for help, please include the request ID {rid}."
    if kind == PRIMARY:
        return f"API rate limit exceeded for installation ID {installation_id}. {support}"
    if kind == SECONDARY:
        return (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try"
            f" again. {support}"
        )
    if kind == SECONDARY_CONTENT:
        return (
            "You have exceeded a secondary rate limit and have been temporarily blocked from"
            " content creation. Please retry your request again later. " + support
        )
    if kind == ABUSE:
        return (
            "You have triggered an abuse detection mechanism. Please wait a few minutes before"
            " you try again."
        )
    raise ValueError(f"unknown rate-limit kind {kind!r}; one of {KINDS}")


def answer(
    kind: str,
    status: int,
    *,
    retry_after: int | None,
    reset_in: float,
    installation_id: int = 1,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, body) of one rate-limited answer, made at the moment it is sent."""
    rid = request_id()
    remaining = 0 if kind == PRIMARY else LIMIT - 13  # a secondary limit leaves quota
    headers = quota_headers(remaining, reset_in, rid)
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    docs = {PRIMARY: PRIMARY_DOCS, ABUSE: ABUSE_DOCS}.get(kind, SECONDARY_DOCS)
    body = {
        "message": message(kind, rid, installation_id),
        "documentation_url": docs,
        "status": str(status),
    }
    return status, headers, body

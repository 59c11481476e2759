"""How long a rate-limited server asked us to wait: GitHub's REST limits and the Messages API's.

Pure functions over a response's status, headers and message; the adapters call them at their
error boundary and hand the delay to Temporal (`ApplicationError(next_retry_delay=...)`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

# The longest wait we take from a server in one go: a longer one (a primary limit's hour) is
# taken as several, each bounded by the activity's schedule-to-close timeout.
MAX_RETRY_DELAY_S = 600.0
# GitHub: "Otherwise, wait for at least one minute before retrying" (secondary rate limits).
GITHUB_SECONDARY_MINIMUM_S = 60.0
# GitHub's reset is whole epoch seconds: retry just *after* it, as octokit does.
_AFTER_RESET_S = 1.0
_GITHUB_LIMIT_STATUSES = frozenset({403, 429})
# 429 rate limited, 503 unavailable, 529 overloaded: the statuses that carry a retry-after.
_MODEL_LIMIT_STATUSES = frozenset({429, 503, 529})
# Phrases of GitHub's secondary-limit answers, current ("You have exceeded a secondary rate
# limit") and legacy ("You have triggered an abuse detection mechanism").
_SECONDARY_PHRASES = ("secondary rate limit", "abuse detection")


def github_retry_delay(
    status: int, headers: Mapping[str, str], message: str, now: float, *, maximum: float
) -> float | None:
    """Seconds to wait before retrying a GitHub REST call, or None when the answer is not a rate
    limit (e.g. a 403 for a missing permission, which no wait cures).

    Follows GitHub's "Exceeding the rate limit": `retry-after` when present; else, with
    `x-ratelimit-remaining: 0`, until `x-ratelimit-reset` (epoch seconds; `now` is epoch
    seconds too); else, for a secondary limit (its message) or a 429, at least a minute.
    The delay is capped at `maximum`.
    """
    if status not in _GITHUB_LIMIT_STATUSES:
        return None
    lowered = _lower_keys(headers)
    retry_after = parse_retry_after(lowered.get("retry-after"), now)
    if retry_after is not None:
        return min(retry_after, maximum)
    if lowered.get("x-ratelimit-remaining", "").strip() == "0":
        reset = _number(lowered.get("x-ratelimit-reset"))
        if reset is None:
            return min(GITHUB_SECONDARY_MINIMUM_S, maximum)
        return min(max(reset - now, 0.0) + _AFTER_RESET_S, maximum)
    if is_secondary_rate_limit(message) or status == 429:
        return min(GITHUB_SECONDARY_MINIMUM_S, maximum)
    return None


def is_secondary_rate_limit(message: str) -> bool:
    """Whether GitHub's error message says a secondary (or legacy abuse) limit was hit."""
    lowered = message.lower()
    return any(phrase in lowered for phrase in _SECONDARY_PHRASES)


def model_retry_delay(
    status: int, headers: Mapping[str, str], *, now: float, maximum: float
) -> float | None:
    """Seconds the Messages API asked us to wait (rate limited, overloaded), or None when the
    answer is not one of those or names no delay (the caller's own backoff applies).

    Reads `retry-after-ms` first (the SDK does too), then `retry-after` in seconds or as an
    HTTP-date; capped at `maximum`.
    """
    if status not in _MODEL_LIMIT_STATUSES:
        return None
    lowered = _lower_keys(headers)
    millis = _number(lowered.get("retry-after-ms"))
    if millis is not None and millis >= 0:
        return min(millis / 1000, maximum)
    delay = parse_retry_after(lowered.get("retry-after"), now)
    return None if delay is None else min(delay, maximum)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """A `Retry-After` value as seconds from `now`: delta-seconds or an HTTP-date (RFC 9110);
    None when absent or unreadable. A date in the past is 0."""
    if value is None or not value.strip():
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is always GMT
        return None
    return max(moment.timestamp() - now, 0.0)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}

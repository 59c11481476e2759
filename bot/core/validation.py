"""A pydantic validation error as one short line: each field's path and message, never the
input that failed (it may be large, or untrusted)."""

from __future__ import annotations

from pydantic import ValidationError


def brief(exc: ValidationError, *, root: str, limit: int | None = None) -> str:
    """`a.b: message; c: message` for the first `limit` errors (all when None), and how many
    more there were; `root` names an error at the top level."""
    errors = exc.errors()
    shown = errors if limit is None else errors[:limit]
    text = "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or root}: {error['msg']}" for error in shown
    )
    more = len(errors) - len(shown)
    return text + (f" (and {more} more)" if more else "")

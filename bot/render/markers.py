"""The hidden first line of every comment the app creates: which run (or command) owns it and
what it is, so a retried call finds the comment instead of posting it twice."""

from __future__ import annotations

from bot.core.targets import CommentKey


def marker(key: CommentKey) -> str:
    """An HTML comment GitHub does not show; its fields are checked to be plain words."""
    return f"<!-- orchestrate:run={key.run} kind={key.kind} -->"


def marked(key: CommentKey, body: str) -> str:
    return f"{marker(key)}\n{body}"


def carries(body: str, key: CommentKey) -> bool:
    """Whether `body` starts with the marker of `key` (on a line of its own)."""
    return body.partition("\n")[0].rstrip("\r") == marker(key)

"""The Messages API as the scripted model server reads it: which role a request is, whether it is
well-formed, its token usage with prompt caching, ids and error bodies."""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import string
from typing import Any

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_ROLE_TAG = re.compile(r"<role>\s*([\w.-]+)\s*</role>")
_ID_ALPHABET = string.ascii_letters + string.digits


def classify_request(body: dict[str, Any]) -> str:
    """The role of a request: a forced tool's name, else a <role>NAME</role> tag, else "default"."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        name = choice.get("name")
        if isinstance(name, str):
            return name
    for text in (_text_of(body.get("system")), _first_user_text(body.get("messages"))):
        match = _ROLE_TAG.search(text)
        if match:
            return match.group(1)
    return "default"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _first_user_text(messages: Any) -> str:
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def shape_problem(body: dict[str, Any]) -> str | None:
    """Why the request is not a Messages request, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required and must be a non-empty list"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        return "max_tokens: Field required and must be a non-negative integer"
    if body.get("stream"):
        return "stream: the scripted model server does not stream"
    return None


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / 4)


def _prompt_items(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    """The prompt in cache order (tools, system, messages): (item, carries cache_control)."""
    items: list[tuple[Any, bool]] = []
    for tool in body.get("tools") or []:
        items.append((tool, isinstance(tool, dict) and "cache_control" in tool))
    system = body.get("system")
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else system or []
    for block in blocks:
        items.append((block, isinstance(block, dict) and "cache_control" in block))
    for message in body["messages"]:
        content = message.get("content") if isinstance(message, dict) else message
        role = message.get("role") if isinstance(message, dict) else None
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for block in blocks:
            items.append(([role, block], isinstance(block, dict) and "cache_control" in block))
    return items


def account_usage(
    body: dict[str, Any], cached: set[str], min_cacheable_tokens: int
) -> tuple[dict[str, int], list[str]]:
    """Input usage of a request, and the hashes of its cacheable prefixes.

    Each cache_control breakpoint closes a prefix; the longest prefix already cached is read, the
    rest up to the last breakpoint is written, the remainder is plain input (as the real API does).
    """
    hasher = hashlib.sha256(body["model"].encode())  # caches are per model
    chars = 0
    prefixes: list[tuple[int, str]] = []
    for item, breakpoint in _prompt_items(body):
        text = json.dumps(item, sort_keys=True, separators=(",", ":"))
        hasher.update(text.encode() + b"\0")
        chars += len(text)
        if breakpoint and estimate_tokens(chars) >= min_cacheable_tokens:
            prefixes.append((estimate_tokens(chars), hasher.hexdigest()))
    read = max((tokens for tokens, digest in prefixes if digest in cached), default=0)
    written = max((tokens for tokens, _ in prefixes), default=0)
    usage = {
        "input_tokens": estimate_tokens(chars) - written,
        "cache_creation_input_tokens": written - read,
        "cache_read_input_tokens": read,
    }
    return usage, [digest for _, digest in prefixes]


def new_id(prefix: str) -> str:
    return prefix + "01" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": new_id("req_"),
    }

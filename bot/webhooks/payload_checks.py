"""Whether a comment payload agrees with itself: one installation, one repository (id, owner,
name, full name), one issue or pull request, one comment, one author. Pure: no I/O.

This only catches payloads that contradict themselves. Whether the repository id is really the
repository named is asked of GitHub by the command workflow before anything else happens.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

from bot.core.targets import CommentKind

_LEGACY_REPOSITORY_NODE = re.compile(r"0\d\d:Repository([1-9]\d*)")
# msgpack unsigned integer tags and their sizes in bytes.
_MSGPACK_UINT = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}


class PayloadProblem(Exception):
    """The payload lacks a field or contradicts itself; the message says which."""


def check_comment_payload(payload: dict[str, Any], kind: CommentKind) -> None:
    """Raise PayloadProblem unless the payload's installation, repository, issue and comment
    agree with each other."""
    installation = payload.get("installation")
    if not isinstance(installation, dict) or not _is_id(installation.get("id")):
        raise PayloadProblem("payload has no installation")
    repo_id = _get(payload, int, "repository", "id")
    owner = _get(payload, str, "repository", "owner", "login")
    name = _get(payload, str, "repository", "name")
    full = f"{owner}/{name}"
    _expect(payload, ("repository", "full_name"), full)
    _expect_url(payload, ("repository", "url"), f"/repos/{full}")
    _expect_url(payload, ("repository", "html_url"), f"/{full}")
    node_id = _get(payload, str, "repository", "node_id")
    encoded = repository_id_in_node_id(node_id)
    if encoded is not None and encoded != repo_id:
        raise PayloadProblem(
            f"payload disagrees with itself: repository.id is {repo_id}, "
            f"repository.node_id {node_id!r} says {encoded}"
        )
    comment_id = _get(payload, int, "comment", "id")
    author = _get(payload, str, "comment", "user", "login")
    _expect(payload, ("sender", "login"), author)
    if kind is CommentKind.REVIEW:
        _check_review_comment(payload, full, repo_id, comment_id)
    else:
        _check_issue_comment(payload, full, comment_id)


def _check_issue_comment(payload: dict[str, Any], full: str, comment_id: int) -> None:
    number = _get(payload, int, "issue", "number")
    _expect_url(payload, ("issue", "repository_url"), f"/repos/{full}")
    _expect_url(payload, ("issue", "url"), f"/repos/{full}/issues/{number}")
    _expect_url(payload, ("comment", "issue_url"), f"/repos/{full}/issues/{number}")
    _expect_url(payload, ("comment", "url"), f"/repos/{full}/issues/comments/{comment_id}")
    # A pull request's conversation lives at /pull/<n>; GitHub serves it at /issues/<n> too.
    _expect_url(
        payload,
        ("comment", "html_url"),
        f"/{full}/issues/{number}",
        f"/{full}/pull/{number}",
        fragment=f"issuecomment-{comment_id}",
    )


def _check_review_comment(
    payload: dict[str, Any], full: str, repo_id: int, comment_id: int
) -> None:
    number = _get(payload, int, "pull_request", "number")
    _expect(payload, ("pull_request", "base", "repo", "id"), repo_id)
    _expect(payload, ("pull_request", "base", "repo", "full_name"), full)
    _expect_url(payload, ("pull_request", "url"), f"/repos/{full}/pulls/{number}")
    _expect_url(payload, ("comment", "pull_request_url"), f"/repos/{full}/pulls/{number}")
    _expect_url(payload, ("comment", "url"), f"/repos/{full}/pulls/comments/{comment_id}")
    _expect_url(
        payload,
        ("comment", "html_url"),
        f"/{full}/pull/{number}",
        fragment=f"discussion_r{comment_id}",
    )


def repository_id_in_node_id(node_id: str) -> int | None:
    """The database id GitHub encodes in a repository's node id (`MDEwOlJlcG9zaXRvcnk…`, legacy:
    base64 of `010:Repository<id>`; `R_kgDO…`: base64url of msgpack `[0, <id>]`), or None for
    any other form, which is then not judged."""
    try:
        if node_id.startswith("R_"):
            return _msgpack_id(base64.urlsafe_b64decode(_padded(node_id[2:])))
        legacy = base64.b64decode(_padded(node_id), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _LEGACY_REPOSITORY_NODE.fullmatch(legacy)
    return int(match[1]) if match else None


def _msgpack_id(raw: bytes) -> int | None:
    if raw[:2] != b"\x92\x00" or len(raw) < 3:
        return None
    tag, value = raw[2], raw[3:]
    if tag < 0x80 and not value:  # positive fixint
        return tag
    return int.from_bytes(value, "big") if _MSGPACK_UINT.get(tag) == len(value) else None


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _get(payload: dict[str, Any], kind: type, *path: str) -> Any:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) or value == "":
        raise PayloadProblem(f"payload lacks a field: {'.'.join(path)}")
    if isinstance(value, int) and value <= 0:
        raise PayloadProblem(f"payload lacks a field: {'.'.join(path)}")
    return value


def _expect(payload: dict[str, Any], path: tuple[str, ...], expected: object) -> None:
    value = _get(payload, type(expected), *path)
    if value != expected:
        raise PayloadProblem(
            f"payload disagrees with itself: {'.'.join(path)} is {value!r}, expected {expected!r}"
        )


def _expect_url(
    payload: dict[str, Any], path: tuple[str, ...], *endings: str, fragment: str = ""
) -> None:
    """The URL at `path` ends with one of the paths `endings` (any host: GitHub Enterprise has
    its own) and has exactly `fragment`."""
    url = _get(payload, str, *path)
    parts = urlsplit(url)
    if not parts.path.endswith(endings) or parts.fragment != fragment or parts.query:
        want = " or ".join(repr(e + (f"#{fragment}" if fragment else "")) for e in endings)
        raise PayloadProblem(
            f"payload disagrees with itself: {'.'.join(path)} is {url!r}, "
            f"expected a URL ending in {want}"
        )

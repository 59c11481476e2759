"""GitHub's own example webhook payloads (npm `@octokit/webhooks-examples`), signed for tests."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

EXAMPLES_INDEX = Path(
    os.environ.get(
        "WEBHOOK_EXAMPLES_INDEX",
        Path(__file__).parent.parent
        / "node_modules/@octokit/webhooks-examples/api.github.com/index.json",
    )
)


@functools.cache
def _examples() -> dict[str, list[dict[str, Any]]]:
    if not EXAMPLES_INDEX.is_file():
        raise RuntimeError(
            f"{EXAMPLES_INDEX} is missing: run `npm ci --prefix tests` (bash .ci/run does)"
        )
    return {entry["name"]: entry["examples"] for entry in json.loads(EXAMPLES_INDEX.read_text())}


def example(
    event: str, action: str | None = None, *, with_installation: bool = True
) -> dict[str, Any]:
    """A deep copy of GitHub's first example of `event`/`action` (one with an installation)."""
    candidates = [e for e in _examples()[event] if action is None or e.get("action") == action]
    if with_installation:
        candidates = [e for e in candidates if e.get("installation")] or candidates
    if not candidates:
        raise LookupError(f"no example for {event}.{action}")
    return copy.deepcopy(candidates[0])


def repository_node_id(repo_id: int) -> str:
    """The node id GitHub gives a repository (legacy form: base64 of `010:Repository<id>`)."""
    return base64.b64encode(f"010:Repository{repo_id}".encode()).decode()


def _repointed(value: Any, old: str, new: str) -> Any:
    """`value` with every URL path under /`old` moved to /`new`."""
    if isinstance(value, dict):
        return {key: _repointed(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_repointed(item, old, new) for item in value]
    if isinstance(value, str) and "://" in value:
        return value.replace(f"/{old}/", f"/{new}/").removesuffix(f"/{old}") + (
            f"/{new}" if value.endswith(f"/{old}") else ""
        )
    return value


def _pointed(
    payload: dict[str, Any], owner: str, repo: str, repo_id: int, installation_id: int, login: str
) -> dict[str, Any]:
    """An example payload moved to an emulator repository, installation and sender, its URLs
    and node id agreeing with the new repository as GitHub's would."""
    payload = _repointed(payload, payload["repository"]["full_name"], f"{owner}/{repo}")
    payload["installation"] = {
        "id": installation_id,
        "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==",
    }
    for copy_of_repository in _repositories(payload, payload["repository"]["id"]):
        copy_of_repository.update(
            id=repo_id,
            node_id=repository_node_id(repo_id),
            name=repo,
            full_name=f"{owner}/{repo}",
            owner={**copy_of_repository["owner"], "login": owner},
        )
    payload["sender"]["login"] = login
    return payload


def _repositories(value: Any, repo_id: int) -> list[dict[str, Any]]:
    """Every copy of the repository `repo_id` in a payload (a pull request's base and head too)."""
    if isinstance(value, list):
        return [found for item in value for found in _repositories(item, repo_id)]
    if not isinstance(value, dict):
        return []
    here = [value] if value.get("id") == repo_id and "full_name" in value else []
    return here + [found for item in value.values() for found in _repositories(item, repo_id)]


def _numbered(url: str, kind: str, number: int) -> str:
    """`url` with the number after `/<kind>/` replaced (an issue, pull or comment number)."""
    return re.sub(rf"/{kind}/\d+", f"/{kind}/{number}", url)


def _renumbered(payload: dict[str, Any], key: str, number: int, comment_id: int) -> None:
    """Point the issue (or pull request) and the comment URLs at `number` and `comment_id`."""
    subject, comment = payload[key], payload["comment"]
    for field in ("url", "html_url", "issue_url", "comments_url", "review_comments_url"):
        if isinstance(subject.get(field), str):
            for kind in ("issues", "pull", "pulls"):
                subject[field] = _numbered(subject[field], kind, number)
    for field in ("url", "issue_url", "pull_request_url"):
        if isinstance(comment.get(field), str):
            for kind in ("issues", "pulls"):
                comment[field] = _numbered(comment[field], kind, number)
            comment[field] = _numbered(comment[field], "comments", comment_id)
    html = comment["html_url"].split("#")[0]
    for kind in ("issues", "pull"):
        html = _numbered(html, kind, number)
    anchor = "discussion_r" if key == "pull_request" else "issuecomment-"
    comment["html_url"] = f"{html}#{anchor}{comment_id}"


def comment_event(
    body: str,
    *,
    owner: str,
    repo: str,
    repo_id: int,
    issue_number: int = 1,
    comment_id: int = 1001,
    login: str = "octocat",
    installation_id: int = 1,
    action: str = "created",
) -> dict[str, Any]:
    """GitHub's issue_comment example, pointed at a repository of the emulator."""
    payload = _pointed(
        example("issue_comment", action), owner, repo, repo_id, installation_id, login
    )
    payload["issue"]["number"] = issue_number
    _renumbered(payload, "issue", issue_number, comment_id)
    payload["comment"].update(
        id=comment_id, body=body, user={**payload["comment"]["user"], "login": login}
    )
    payload["comment"]["performed_via_github_app"] = None
    return payload


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(
    event: str, body: bytes, secret: str, delivery: str | None = None
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": sign(secret, body),
    }


def review_comment_event(
    body: str,
    *,
    owner: str,
    repo: str,
    repo_id: int,
    pull_number: int,
    comment_id: int,
    path: str,
    line: int,
    diff_hunk: str = "",
    login: str = "octocat",
    installation_id: int = 1,
) -> dict[str, Any]:
    """GitHub's pull_request_review_comment.created example, pointed at the emulator."""
    payload = _pointed(
        example("pull_request_review_comment", "created"),
        owner,
        repo,
        repo_id,
        installation_id,
        login,
    )
    payload["pull_request"]["number"] = pull_number
    _renumbered(payload, "pull_request", pull_number, comment_id)
    payload["comment"].update(
        id=comment_id,
        body=body,
        path=path,
        line=line,
        diff_hunk=diff_hunk,
        user={**payload["comment"]["user"], "login": login},
    )
    return payload

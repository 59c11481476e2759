"""GitHub's own example webhook payloads (npm `@octokit/webhooks-examples`), signed for tests."""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import os
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


def _pointed(
    payload: dict[str, Any], owner: str, repo: str, repo_id: int, installation_id: int, login: str
) -> dict[str, Any]:
    """An example payload moved to an emulator repository, installation and sender."""
    payload["installation"] = {
        "id": installation_id,
        "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==",
    }
    payload["repository"].update(
        id=repo_id,
        name=repo,
        full_name=f"{owner}/{repo}",
        owner={**payload["repository"]["owner"], "login": owner},
    )
    payload["sender"]["login"] = login
    return payload


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
    payload["comment"].update(
        id=comment_id,
        body=body,
        path=path,
        line=line,
        diff_hunk=diff_hunk,
        user={**payload["comment"]["user"], "login": login},
    )
    return payload

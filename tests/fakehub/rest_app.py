"""Endpoints authenticated with the app's JWT."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from .auth import issue_token
from .state import RepoState
from .web import GitHubJSON, HubError, not_found, read_json, require_jwt


async def get_app(request: Request) -> GitHubJSON:
    hub = require_jwt(request)
    return GitHubJSON(hub.shapes.app())


async def get_installation(request: Request) -> GitHubJSON:
    hub = require_jwt(request)
    with hub.state.lock:
        inst = hub.state.installations.get(request.path_params["installation_id"])
    if inst is None:
        raise not_found()
    return GitHubJSON(hub.shapes.installation(inst))


async def create_access_token(request: Request) -> GitHubJSON:
    """A token for the installation, or (`repository_ids`, `repositories`) for some of its
    repositories only; naming one outside the installation is refused, as GitHub does."""
    hub = require_jwt(request)
    body = await read_json(request)
    with hub.state.lock:
        inst = hub.state.installations.get(request.path_params["installation_id"])
        repos = [r for r in hub.state.repos.values() if inst and r.installation_id == inst.id]
    if inst is None:
        raise not_found()
    scope = _token_scope(body, repos)
    if scope is not None:
        repos = [r for r in repos if r.id in scope]
    issued = issue_token(hub.state, inst.id, repository_ids=scope)
    return GitHubJSON(
        {
            "token": issued.token,
            "expires_at": issued.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": dict(inst.permissions),
            "repository_selection": "selected",
            "repositories": [hub.shapes.repository(r, full=False) for r in repos],
        },
        status_code=201,
    )


def _token_scope(body: dict[str, Any], repos: list[RepoState]) -> frozenset[int] | None:
    ids, names = body.get("repository_ids"), body.get("repositories")
    if ids is None and names is None:
        return None
    by_name = {r.name: r.id for r in repos}
    wanted = set()
    for value in ids or []:
        if not isinstance(value, int) or value not in by_name.values():
            raise HubError(422, _NOT_ACCESSIBLE)
        wanted.add(value)
    for value in names or []:
        if not isinstance(value, str) or value not in by_name:
            raise HubError(422, _NOT_ACCESSIBLE)
        wanted.add(by_name[value])
    return frozenset(wanted)


_NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible to the parent"
    " installation."
)


async def get_repo_installation(request: Request) -> GitHubJSON:
    hub = require_jwt(request)
    key = (request.path_params["owner"], request.path_params["repo"])
    with hub.state.lock:
        repo = hub.state.repos.get(key)
        inst = hub.state.installations.get(repo.installation_id) if repo else None
    if inst is None:
        raise not_found()
    return GitHubJSON(hub.shapes.installation(inst))


routes = [
    Route("/app", get_app, methods=["GET"]),
    Route("/app/installations/{installation_id:int}", get_installation, methods=["GET"]),
    Route(
        "/app/installations/{installation_id:int}/access_tokens",
        create_access_token,
        methods=["POST"],
    ),
    Route("/repos/{owner}/{repo}/installation", get_repo_installation, methods=["GET"]),
]

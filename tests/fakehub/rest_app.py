"""Endpoints authenticated with the app's JWT."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .auth import issue_token
from .web import GitHubJSON, not_found, require_jwt


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
    hub = require_jwt(request)
    with hub.state.lock:
        inst = hub.state.installations.get(request.path_params["installation_id"])
        repos = [r for r in hub.state.repos.values() if inst and r.installation_id == inst.id]
    if inst is None:
        raise not_found()
    issued = issue_token(hub.state, inst.id)
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

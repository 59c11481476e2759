"""The hub's ASGI application: every route, GitHub's error JSON, and the middleware."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from . import githttp, rest_app, rest_issues, rest_pulls, rest_repos
from .faults import HubMiddleware
from .shapes import error
from .web import GitHubJSON, HubError

if TYPE_CHECKING:
    from .server import FakeHub


async def hub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubError)
    return exc.response()


async def http_error(request: Request, exc: Exception) -> Response:
    # Unknown routes and methods answer like GitHub: 404 with its JSON.
    assert isinstance(exc, HTTPException)
    status = 404 if exc.status_code in (404, 405) else exc.status_code
    return GitHubJSON(error(status, "Not Found" if status == 404 else str(exc.detail)), status)


def build_app(hub: FakeHub) -> ASGIApp:
    routes = [
        *rest_app.routes,
        *rest_repos.routes,
        *rest_issues.routes,
        *rest_pulls.routes,
        *githttp.routes,
    ]
    app = Starlette(
        routes=routes, exception_handlers={HubError: hub_error, HTTPException: http_error}
    )
    app.state.hub = hub
    return HubMiddleware(app, hub.state, hub.faults, hub.hooks, hub.abort_connection)

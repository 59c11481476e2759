"""What every REST handler shares: the JSON response, errors, auth guards, pagination."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .auth import bearer, check_app_jwt, valid_token
from .shapes import error
from .state import IssuedToken, RepoState

if TYPE_CHECKING:
    from .server import FakeHub


class GitHubJSON(JSONResponse):
    media_type = "application/json; charset=utf-8"


class HubError(Exception):
    """Raised by handlers; rendered as GitHub's error JSON."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def response(self) -> GitHubJSON:
        return GitHubJSON(error(self.status, self.message, **self.extra), status_code=self.status)


def not_found() -> HubError:
    return HubError(404, "Not Found")


def validation_failed(resource: str, field: str, code: str, message: str | None = None) -> HubError:
    item: dict[str, str] = {"resource": resource, "field": field, "code": code}
    if message is not None:
        item["message"] = message
    return HubError(422, "Validation Failed", errors=[item])


def hub_of(request: Request) -> FakeHub:
    hub: FakeHub = request.app.state.hub
    return hub


async def read_json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise HubError(400, "Problems parsing JSON") from exc
    if not isinstance(data, dict):
        raise HubError(400, "Problems parsing JSON")
    return data


def require_jwt(request: Request) -> FakeHub:
    hub = hub_of(request)
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise HubError(401, "A JSON web token could not be decoded")
    problem = check_app_jwt(token, hub.public_key, hub.app_id)
    if problem is not None:
        raise HubError(401, problem)
    return hub


def require_repo(request: Request) -> tuple[FakeHub, RepoState, IssuedToken]:
    """The repository of the path, reachable with the request's installation token."""
    hub = hub_of(request)
    header = request.headers.get("authorization")
    token = bearer(header)
    if token is None:
        raise HubError(401, "Requires authentication")
    issued = valid_token(hub.state, token)
    if issued is None:
        raise HubError(401, "Bad credentials")
    key = (request.path_params["owner"], request.path_params["repo"])
    with hub.state.lock:
        repo = hub.state.repos.get(key)
    # GitHub hides repositories outside the installation (or the token's scope) behind a 404.
    if repo is None or not issued.reaches(repo):
        raise not_found()
    return hub, repo, issued


def paginate(request: Request, items: list[Any]) -> GitHubJSON:
    """One page of `items` with GitHub's Link header (per_page ≤ 100, default 30)."""
    try:
        per_page = min(max(int(request.query_params.get("per_page", 30)), 1), 100)
        page = max(int(request.query_params.get("page", 1)), 1)
    except ValueError as exc:
        raise HubError(400, "Invalid pagination parameter") from exc
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
        if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
            url = request.url.include_query_params(page=number, per_page=per_page)
            links.append(f'<{url}>; rel="{rel}"')
    headers = {"link": ", ".join(links)} if links else {}
    return GitHubJSON(chunk, headers=headers)


def since_filter(request: Request) -> str | None:
    """The `since` query parameter (ISO 8601) normalised to GitHub's "…Z" second form, so it
    compares with the stored timestamps as text; None when absent."""
    raw = request.query_params.get("since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HubError(422, "Validation Failed", errors=[
            {"resource": "Search", "field": "since", "code": "invalid"}
        ]) from exc  # fmt: skip
    if moment.tzinfo is None:
        raise HubError(422, "Validation Failed", errors=[
            {"resource": "Search", "field": "since", "code": "invalid"}
        ])  # fmt: skip
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

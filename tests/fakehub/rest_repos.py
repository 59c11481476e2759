"""Repository, permission, contents and git refs endpoints (installation token)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import gitrepo
from .gitrepo import ZERO_SHA
from .state import Push, RepoState
from .web import GitHubJSON, HubError, not_found, read_json, require_repo

if TYPE_CHECKING:
    from .server import FakeHub


async def get_repo(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    return GitHubJSON(hub.shapes.repository(repo))


async def get_permission(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    login = request.path_params["username"]
    with hub.state.lock:
        role = repo.permissions.get(login, "admin" if login == repo.owner else "none")
    return GitHubJSON(hub.shapes.permission(repo, login, role))


async def get_content(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    path = request.path_params["path"].strip("/")
    ref = request.query_params.get("ref") or repo.default_branch
    commit = await asyncio.to_thread(gitrepo.resolve, repo.bare, ref)
    if commit is None:
        raise HubError(404, f"No commit found for the ref {ref}")
    if path:
        try:
            siblings = await asyncio.to_thread(
                gitrepo.tree_entries, repo.bare, commit, path.rpartition("/")[0]
            )
        except gitrepo.GitFailure as exc:
            raise not_found() from exc
        entry = next((e for e in siblings if e.path == path), None)
        if entry is None or entry.type == "commit":
            raise not_found()
        if entry.type == "blob":
            data = await asyncio.to_thread(gitrepo.read_blob, repo.bare, entry.sha)
            return GitHubJSON(hub.shapes.content_file(repo, ref, path, entry.sha, data))
    entries = await asyncio.to_thread(gitrepo.tree_entries, repo.bare, commit, path)
    kinds = {"blob": "file", "tree": "dir", "commit": "submodule"}
    items = [
        hub.shapes.content_item(repo, ref, e.path, e.sha, e.size, kinds[e.type]) for e in entries
    ]
    return GitHubJSON(items)


async def get_ref(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    ref = "refs/" + request.path_params["ref"]
    refs = await asyncio.to_thread(gitrepo.list_refs, repo.bare)
    if ref not in refs:
        raise not_found()
    return GitHubJSON(hub.shapes.git_ref(repo, ref, refs[ref]))


def _record(hub: FakeHub, repo: RepoState, ref: str, old: str, new: str, forced: bool) -> None:
    with hub.state.lock:
        hub.state.pushes.append(Push(repo.full_name, ref, old, new, forced, via="rest"))


async def create_ref(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    body = await read_json(request)
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise HubError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not isinstance(sha, str) or await asyncio.to_thread(gitrepo.resolve, repo.bare, sha) != sha:
        raise HubError(422, "Object does not exist")
    try:
        await asyncio.to_thread(gitrepo.update_ref, repo.bare, ref, sha, ZERO_SHA)
    except gitrepo.GitFailure as exc:
        raise HubError(422, "Reference already exists") from exc
    _record(hub, repo, ref, ZERO_SHA, sha, forced=False)
    return GitHubJSON(hub.shapes.git_ref(repo, ref, sha), status_code=201)


async def update_ref(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    ref = "refs/" + request.path_params["ref"]
    body = await read_json(request)
    sha, force = body.get("sha"), bool(body.get("force", False))
    old = (await asyncio.to_thread(gitrepo.list_refs, repo.bare)).get(ref)
    if old is None:
        raise HubError(422, "Reference does not exist")
    if not isinstance(sha, str) or await asyncio.to_thread(gitrepo.resolve, repo.bare, sha) != sha:
        raise HubError(422, "Object does not exist")
    fast_forward = await asyncio.to_thread(gitrepo.is_ancestor, repo.bare, old, sha)
    if not fast_forward and not force:
        raise HubError(422, "Update is not a fast forward")
    try:
        await asyncio.to_thread(gitrepo.update_ref, repo.bare, ref, sha, old)
    except gitrepo.GitFailure as exc:
        raise HubError(422, "Reference cannot be updated") from exc
    _record(hub, repo, ref, old, sha, forced=not fast_forward)
    return GitHubJSON(hub.shapes.git_ref(repo, ref, sha))


async def delete_ref(request: Request) -> Response:
    hub, repo, _ = require_repo(request)
    ref = "refs/" + request.path_params["ref"]
    old = (await asyncio.to_thread(gitrepo.list_refs, repo.bare)).get(ref)
    if old is None:
        raise HubError(422, "Reference does not exist")
    await asyncio.to_thread(gitrepo.delete_ref, repo.bare, ref, old)
    _record(hub, repo, ref, old, ZERO_SHA, forced=False)
    return Response(status_code=204)


REPO = "/repos/{owner}/{repo}"
routes = [
    Route(REPO, get_repo, methods=["GET"]),
    Route(f"{REPO}/collaborators/{{username}}/permission", get_permission, methods=["GET"]),
    Route(f"{REPO}/contents/{{path:path}}", get_content, methods=["GET"]),
    Route(f"{REPO}/git/ref/{{ref:path}}", get_ref, methods=["GET"]),
    Route(f"{REPO}/git/refs", create_ref, methods=["POST"]),
    Route(f"{REPO}/git/refs/{{ref:path}}", update_ref, methods=["PATCH"]),
    Route(f"{REPO}/git/refs/{{ref:path}}", delete_ref, methods=["DELETE"]),
]

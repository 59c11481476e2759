"""Issues, issue comments and reactions (installation token)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.routing import Route

from . import issue_shapes
from .state import Comment, Issue, PullRequest, Reaction, RepoState, now_iso
from .web import (
    GitHubJSON,
    HubError,
    not_found,
    paginate,
    read_json,
    require_repo,
    since_filter,
)

if TYPE_CHECKING:
    from .server import FakeHub

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def find_item(hub: FakeHub, repo: RepoState, number: int) -> Issue | PullRequest:
    with hub.state.lock:
        item = hub.state.issues.get(repo.key, {}).get(number) or hub.state.pulls.get(
            repo.key, {}
        ).get(number)
    if item is None:
        raise not_found()
    return item


def find_comment(hub: FakeHub, repo: RepoState, comment_id: int) -> Comment:
    with hub.state.lock:
        comment = hub.state.comments.get(comment_id)
    if comment is None or (comment.owner, comment.repo) != repo.key:
        raise not_found()
    return comment


def body_text(data: dict[str, object], field: str = "body") -> str:
    value = data.get(field)
    if not isinstance(value, str):
        raise HubError(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
    return value


async def get_issue(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    item = find_item(hub, repo, request.path_params["number"])
    count = len(hub.state.comments_on(repo.owner, repo.name, item.number))
    return GitHubJSON(issue_shapes.issue(hub.shapes, repo, item, count))


async def list_comments(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    item = find_item(hub, repo, request.path_params["number"])
    comments = hub.state.comments_on(repo.owner, repo.name, item.number)
    # GitHub: oldest first; `since` keeps those updated at or after that time.
    since = since_filter(request)
    if since is not None:
        comments = [c for c in comments if c.updated_at >= since]
    return paginate(request, [hub.shapes.issue_comment(c) for c in comments])


async def create_comment(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    item = find_item(hub, repo, request.path_params["number"])
    body = body_text(await read_json(request))
    comment = Comment(
        hub.state.next_id(), repo.owner, repo.name, item.number, body, hub.bot_login, via_app=True
    )
    with hub.state.lock:
        hub.state.comments[comment.id] = comment
    return GitHubJSON(hub.shapes.issue_comment(comment), status_code=201)


async def get_comment(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    comment = find_comment(hub, repo, request.path_params["comment_id"])
    return GitHubJSON(hub.shapes.issue_comment(comment))


async def update_comment(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    comment = find_comment(hub, repo, request.path_params["comment_id"])
    body = body_text(await read_json(request))
    # GitHub lets an app edit only the comments it wrote.
    if comment.user != hub.bot_login:
        raise HubError(403, "Resource not accessible by integration")
    with hub.state.lock:
        comment.body = body
        comment.updated_at = now_iso()
    return GitHubJSON(hub.shapes.issue_comment(comment))


def _subject_exists(hub: FakeHub, repo: RepoState, subject: str, subject_id: int) -> bool:
    with hub.state.lock:
        table = hub.state.comments if subject == "issue_comment" else hub.state.review_comments
        found = table.get(subject_id)
    return found is not None and (found.owner, found.repo) == repo.key


async def _react(request: Request, subject: str) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    subject_id = request.path_params["comment_id"]
    if not _subject_exists(hub, repo, subject, subject_id):
        raise not_found()
    content = (await read_json(request)).get("content")
    if content not in REACTIONS:
        raise HubError(
            422,
            "Validation Failed",
            errors=[{"resource": "Reaction", "field": "content", "code": "invalid"}],
        )
    assert isinstance(content, str)
    with hub.state.lock:
        for existing in hub.state.reactions_on(subject_id, subject):
            if (existing.content, existing.user) == (content, hub.bot_login):
                return GitHubJSON(hub.shapes.reaction(existing), status_code=200)
        reaction = Reaction(hub.state.next_id(), subject, subject_id, content, hub.bot_login)
        hub.state.reactions.append(reaction)
    return GitHubJSON(hub.shapes.reaction(reaction), status_code=201)


async def react_issue_comment(request: Request) -> GitHubJSON:
    return await _react(request, "issue_comment")


async def react_review_comment(request: Request) -> GitHubJSON:
    return await _react(request, "review_comment")


async def _list_reactions(request: Request, subject: str) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    subject_id = request.path_params["comment_id"]
    if not _subject_exists(hub, repo, subject, subject_id):
        raise not_found()
    wanted = request.query_params.get("content")
    found = [r for r in hub.state.reactions_on(subject_id, subject) if wanted in (None, r.content)]
    return paginate(request, [hub.shapes.reaction(r) for r in found])


async def list_issue_comment_reactions(request: Request) -> GitHubJSON:
    return await _list_reactions(request, "issue_comment")


async def list_review_comment_reactions(request: Request) -> GitHubJSON:
    return await _list_reactions(request, "review_comment")


REPO = "/repos/{owner}/{repo}"
COMMENT = f"{REPO}/issues/comments/{{comment_id:int}}"
routes = [
    Route(f"{REPO}/issues/{{number:int}}", get_issue, methods=["GET"]),
    Route(f"{REPO}/issues/{{number:int}}/comments", list_comments, methods=["GET"]),
    Route(f"{REPO}/issues/{{number:int}}/comments", create_comment, methods=["POST"]),
    Route(COMMENT, get_comment, methods=["GET"]),
    Route(COMMENT, update_comment, methods=["PATCH"]),
    Route(f"{COMMENT}/reactions", react_issue_comment, methods=["POST"]),
    Route(f"{COMMENT}/reactions", list_issue_comment_reactions, methods=["GET"]),
    Route(
        f"{REPO}/pulls/comments/{{comment_id:int}}/reactions",
        react_review_comment,
        methods=["POST"],
    ),
    Route(
        f"{REPO}/pulls/comments/{{comment_id:int}}/reactions",
        list_review_comment_reactions,
        methods=["GET"],
    ),
]

"""Pull requests and their review comments (installation token)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from . import gitrepo, issue_shapes
from .gitrepo import ZERO_SHA, DiffStats
from .rest_issues import body_text
from .state import PullRequest, RepoState, ReviewComment, now_iso
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


def custom_error(message: str) -> HubError:
    return HubError(
        422,
        "Validation Failed",
        errors=[{"resource": "PullRequest", "code": "custom", "message": message}],
    )


def invalid_field(field: str) -> HubError:
    return HubError(
        422,
        "Validation Failed",
        errors=[{"resource": "PullRequest", "field": field, "code": "invalid"}],
    )


async def branch_sha(repo: RepoState, branch: str) -> str | None:
    return await asyncio.to_thread(gitrepo.resolve, repo.bare, f"refs/heads/{branch}")


async def render(hub: FakeHub, repo: RepoState, pr: PullRequest, *, full: bool) -> dict[str, Any]:
    # A deleted branch still renders: GitHub keeps the last sha, we show zeros.
    head = await branch_sha(repo, pr.head_ref) or ZERO_SHA
    base = await branch_sha(repo, pr.base_ref) or ZERO_SHA
    if not full:
        return issue_shapes.pull_request(hub.shapes, repo, pr, head, base)
    try:
        stats = await asyncio.to_thread(gitrepo.diff_stats, repo.bare, base, head)
    except gitrepo.GitFailure:
        stats = DiffStats(0, 0, 0, 0)
    with hub.state.lock:
        reviews = sum(
            1
            for c in hub.state.review_comments.values()
            if (c.owner, c.repo, c.pull_number) == (repo.owner, repo.name, pr.number)
        )
    comments = len(hub.state.comments_on(repo.owner, repo.name, pr.number))
    return issue_shapes.pull_request(
        hub.shapes, repo, pr, head, base, stats=stats, comments=comments, review_comments=reviews
    )


def find_pull(hub: FakeHub, repo: RepoState, number: int) -> PullRequest:
    with hub.state.lock:
        pr = hub.state.pulls.get(repo.key, {}).get(number)
    if pr is None:
        raise not_found()
    return pr


async def create_pull(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    data = await read_json(request)
    title, head, base = data.get("title"), data.get("head"), data.get("base")
    if not isinstance(title, str) or not title:
        raise HubError(
            422,
            "Validation Failed",
            errors=[{"resource": "Issue", "field": "title", "code": "missing_field"}],
        )
    if not isinstance(head, str) or not isinstance(base, str):
        raise invalid_field("head" if not isinstance(head, str) else "base")
    head_owner, _, head_ref = head.rpartition(":")
    head_owner = head_owner or repo.owner
    head_sha = await branch_sha(repo, head_ref) if head_owner == repo.owner else None
    if head_sha is None:
        raise invalid_field("head")
    base_sha = await branch_sha(repo, base)
    if base_sha is None:
        raise invalid_field("base")
    if await asyncio.to_thread(gitrepo.is_ancestor, repo.bare, head_sha, base_sha):
        raise custom_error(f"No commits between {base} and {head_ref}")
    with hub.state.lock:
        for other in hub.state.pulls.get(repo.key, {}).values():
            if other.state == "open" and (other.head_ref, other.base_ref) == (head_ref, base):
                raise custom_error(f"A pull request already exists for {head_owner}:{head_ref}.")
        pr = PullRequest(
            number=hub.state.next_number(repo.key),
            id=hub.state.next_id(),
            owner=repo.owner,
            repo=repo.name,
            title=title,
            body=data.get("body") if isinstance(data.get("body"), str) else None,
            user=hub.bot_login,
            head_owner=head_owner,
            head_ref=head_ref,
            base_ref=base,
            draft=bool(data.get("draft", False)),
            maintainer_can_modify=bool(data.get("maintainer_can_modify", False)),
        )
        hub.state.pulls.setdefault(repo.key, {})[pr.number] = pr
    return GitHubJSON(await render(hub, repo, pr, full=True), status_code=201)


async def list_pulls(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    q = request.query_params
    state, head, base = q.get("state", "open"), q.get("head"), q.get("base")
    if state not in ("open", "closed", "all"):
        raise HubError(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "field": "state", "code": "invalid"}],
        )
    chosen = []
    for pr in reversed(hub.state.pulls_of(repo.owner, repo.name)):  # newest first, like GitHub
        if state != "all" and pr.state != state:
            continue
        if head is not None and head != f"{pr.head_owner}:{pr.head_ref}":
            continue
        if base is not None and base != pr.base_ref:
            continue
        chosen.append(await render(hub, repo, pr, full=False))
    return paginate(request, chosen)


async def get_pull(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    pr = find_pull(hub, repo, request.path_params["number"])
    return GitHubJSON(await render(hub, repo, pr, full=True))


async def update_pull(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    pr = find_pull(hub, repo, request.path_params["number"])
    data = await read_json(request)
    if "state" in data and data["state"] not in ("open", "closed"):
        raise invalid_field("state")
    if "base" in data and await branch_sha(repo, str(data["base"])) is None:
        raise invalid_field("base")
    with hub.state.lock:
        pr.title = str(data.get("title", pr.title))
        pr.body = data.get("body", pr.body)
        pr.base_ref = str(data.get("base", pr.base_ref))
        if data.get("state") in ("open", "closed") and data["state"] != pr.state:
            pr.state = data["state"]
            pr.closed_at = now_iso() if pr.state == "closed" else None
        if "maintainer_can_modify" in data:
            pr.maintainer_can_modify = bool(data["maintainer_can_modify"])
        pr.updated_at = now_iso()
    return GitHubJSON(await render(hub, repo, pr, full=True))


def find_review_comment(hub: FakeHub, repo: RepoState, comment_id: int) -> ReviewComment:
    with hub.state.lock:
        rc = hub.state.review_comments.get(comment_id)
    if rc is None or (rc.owner, rc.repo) != repo.key:
        raise not_found()
    return rc


def chosen_review_comments(
    request: Request, hub: FakeHub, repo: RepoState, pull_number: int | None
) -> list[ReviewComment]:
    """Review comments (replies included) of one pull request or (None) of the repository,
    with GitHub's `sort` (created, updated), `direction` and `since`."""
    q = request.query_params
    sort, direction = q.get("sort", "created"), q.get("direction")
    if sort not in ("created", "updated") or direction not in (None, "asc", "desc"):
        raise HubError(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequestReviewComment", "field": "sort", "code": "invalid"}],
        )
    since = since_filter(request)
    with hub.state.lock:
        found = [
            c
            for c in hub.state.review_comments.values()
            if (c.owner, c.repo) == repo.key and pull_number in (None, c.pull_number)
        ]
    if since is not None:
        found = [c for c in found if c.updated_at >= since]
    stamp = (lambda c: (c.updated_at, c.id)) if sort == "updated" else (lambda c: (c.id,))
    return sorted(found, key=stamp, reverse=direction == "desc")


async def list_review_comments(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    pr = find_pull(hub, repo, request.path_params["number"])
    found = chosen_review_comments(request, hub, repo, pr.number)
    return paginate(request, [hub.shapes.review_comment(c) for c in found])


async def list_repo_review_comments(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    found = chosen_review_comments(request, hub, repo, None)
    return paginate(request, [hub.shapes.review_comment(c) for c in found])


async def get_review_comment(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    rc = find_review_comment(hub, repo, request.path_params["comment_id"])
    return GitHubJSON(hub.shapes.review_comment(rc))


async def reply_review_comment(request: Request) -> GitHubJSON:
    hub, repo, _ = require_repo(request)
    pr = find_pull(hub, repo, request.path_params["number"])
    target = find_review_comment(hub, repo, request.path_params["comment_id"])
    if target.pull_number != pr.number:
        raise not_found()
    body = body_text(await read_json(request))
    root = hub.state.thread_of(target.id)[0]  # replies always attach to the thread's root
    reply = ReviewComment(
        id=hub.state.next_id(),
        owner=repo.owner,
        repo=repo.name,
        pull_number=pr.number,
        path=root.path,
        line=root.line,
        body=body,
        user=hub.bot_login,
        via_app=True,
        commit_id=root.commit_id,
        diff_hunk=root.diff_hunk,
        in_reply_to_id=root.id,
    )
    with hub.state.lock:
        hub.state.review_comments[reply.id] = reply
        hub.state.review_replies.append(reply)
    return GitHubJSON(hub.shapes.review_comment(reply), status_code=201)


PULLS = "/repos/{owner}/{repo}/pulls"
routes = [
    Route(PULLS, list_pulls, methods=["GET"]),
    Route(PULLS, create_pull, methods=["POST"]),
    Route(f"{PULLS}/{{number:int}}", get_pull, methods=["GET"]),
    Route(f"{PULLS}/{{number:int}}", update_pull, methods=["PATCH"]),
    Route(f"{PULLS}/{{number:int}}/comments", list_review_comments, methods=["GET"]),
    Route(f"{PULLS}/comments", list_repo_review_comments, methods=["GET"]),
    Route(f"{PULLS}/comments/{{comment_id:int}}", get_review_comment, methods=["GET"]),
    Route(
        f"{PULLS}/{{number:int}}/comments/{{comment_id:int}}/replies",
        reply_review_comment,
        methods=["POST"],
    ),
]

"""GitHub's issue and pull request shapes (kept apart from shapes.py to keep modules small)."""

from __future__ import annotations

from .gitrepo import DiffStats
from .shapes import Json, Shapes
from .state import Issue, PullRequest, RepoState


def issue(sh: Shapes, repo: RepoState, item: Issue | PullRequest, comments: int) -> Json:
    """The issue shape; a pull request seen through the issues API carries `pull_request`."""
    api = sh.api(f"repos/{repo.full_name}/issues/{item.number}")
    html_kind = "pull" if isinstance(item, PullRequest) else "issues"
    shape: Json = {
        "id": item.id,
        "node_id": f"I_{item.id}",
        "url": api,
        "repository_url": sh.api(f"repos/{repo.full_name}"),
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{sh.base}/{repo.full_name}/{html_kind}/{item.number}",
        "number": item.number,
        "state": item.state,
        "state_reason": None,
        "title": item.title,
        "body": item.body,
        "user": sh.user(item.user),
        "labels": [],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": comments,
        "closed_at": item.closed_at,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "author_association": "OWNER" if item.user == repo.owner else "COLLABORATOR",
        "timeline_url": f"{api}/timeline",
    }
    if isinstance(item, PullRequest):
        pr_api = sh.api(f"repos/{repo.full_name}/pulls/{item.number}")
        html = shape["html_url"]
        shape["draft"] = item.draft
        shape["pull_request"] = {
            "url": pr_api,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": None,
        }
    return shape


def _branch(sh: Shapes, repo: RepoState, owner: str, ref: str, sha: str) -> Json:
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": sh.user(owner),
        "repo": sh.repository(repo, full=False),
    }


def pull_request(
    sh: Shapes,
    repo: RepoState,
    pr: PullRequest,
    head_sha: str,
    base_sha: str,
    *,
    stats: DiffStats | None = None,
    comments: int = 0,
    review_comments: int = 0,
) -> Json:
    """The full pull request shape; without `stats` the simple (list) shape."""
    api = sh.api(f"repos/{repo.full_name}")
    url = f"{api}/pulls/{pr.number}"
    html = f"{sh.base}/{repo.full_name}/pull/{pr.number}"
    links = {
        "self": {"href": url},
        "html": {"href": html},
        "issue": {"href": f"{api}/issues/{pr.number}"},
        "comments": {"href": f"{api}/issues/{pr.number}/comments"},
        "review_comments": {"href": f"{url}/comments"},
        "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
        "commits": {"href": f"{url}/commits"},
        "statuses": {"href": f"{api}/statuses/{head_sha}"},
    }
    shape: Json = {
        "url": url,
        "id": pr.id,
        "node_id": f"PR_{pr.id}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{pr.number}",
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{pr.number}/comments",
        "statuses_url": f"{api}/statuses/{head_sha}",
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": sh.user(pr.user),
        "body": pr.body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pr.created_at,
        "updated_at": pr.updated_at,
        "closed_at": pr.closed_at,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _branch(sh, repo, pr.head_owner, pr.head_ref, head_sha),
        "base": _branch(sh, repo, repo.owner, pr.base_ref, base_sha),
        "_links": links,
        "author_association": "NONE" if pr.user.endswith("[bot]") else "COLLABORATOR",
        "auto_merge": None,
        "draft": pr.draft,
    }
    if stats is not None:
        shape |= {
            "merged": False,
            "mergeable": None,
            "rebaseable": None,
            "mergeable_state": "unknown",
            "merged_by": None,
            "comments": comments,
            "review_comments": review_comments,
            "maintainer_can_modify": pr.maintainer_can_modify,
            "commits": stats.commits,
            "additions": stats.additions,
            "deletions": stats.deletions,
            "changed_files": stats.changed_files,
        }
    return shape

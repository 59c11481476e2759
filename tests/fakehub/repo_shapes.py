"""GitHub's repository shape (full and simple), kept apart from shapes.py to keep it small."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .state import RepoState

if TYPE_CHECKING:
    from .shapes import Json, Shapes

REPO_URLS = {
    "archive": "{archive_format}{/ref}",
    "assignees": "assignees{/user}",
    "blobs": "git/blobs{/sha}",
    "branches": "branches{/branch}",
    "collaborators": "collaborators{/collaborator}",
    "comments": "comments{/number}",
    "commits": "commits{/sha}",
    "compare": "compare/{base}...{head}",
    "contents": "contents/{+path}",
    "contributors": "contributors",
    "deployments": "deployments",
    "downloads": "downloads",
    "events": "events",
    "forks": "forks",
    "git_commits": "git/commits{/sha}",
    "git_refs": "git/refs{/sha}",
    "git_tags": "git/tags{/sha}",
    "hooks": "hooks",
    "issue_comment": "issues/comments{/number}",
    "issue_events": "issues/events{/number}",
    "issues": "issues{/number}",
    "keys": "keys{/key_id}",
    "labels": "labels{/name}",
    "languages": "languages",
    "merges": "merges",
    "milestones": "milestones{/number}",
    "notifications": "notifications{?since,all,participating}",
    "pulls": "pulls{/number}",
    "releases": "releases{/id}",
    "stargazers": "stargazers",
    "statuses": "statuses/{sha}",
    "subscribers": "subscribers",
    "subscription": "subscription",
    "tags": "tags",
    "teams": "teams",
    "trees": "git/trees{/sha}",
}


def repository(sh: Shapes, repo: RepoState, *, full: bool = True) -> Json:
    """The repository shape; `full` adds the fields only GET /repos/{o}/{r} has."""
    api = sh.api(f"repos/{repo.full_name}")
    html = f"{sh.base}/{repo.full_name}"
    shape: Json = {
        "id": repo.id,
        "node_id": f"R_{repo.id}",
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": sh.user(repo.owner),
        "private": repo.private,
        "visibility": "private" if repo.private else "public",
        "html_url": html,
        "description": None,
        "fork": False,
        "url": api,
    }
    shape |= {f"{key}_url": f"{api}/{suffix}" for key, suffix in REPO_URLS.items()}
    shape.update(
        {
            "git_url": f"git://{sh.base.split('://', 1)[1]}/{repo.full_name}.git",
            "ssh_url": f"git@fakehub:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 1,
            "default_branch": repo.default_branch,
            "open_issues_count": 0,
            "open_issues": 0,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "license": None,
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "pushed_at": repo.created_at,
            "created_at": repo.created_at,
            "updated_at": repo.created_at,
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }
    )
    if full:
        shape.update({"subscribers_count": 0, "network_count": 0, "temp_clone_token": ""})
    return shape

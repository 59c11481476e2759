"""Builders of GitHub's JSON shapes (as githubkit's OpenAPI models expect them).

`Shapes` knows the hub's base URL and its app; every URL points back at the hub.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from . import repo_shapes
from .state import Comment, HubState, Installation, Reaction, RepoState, ReviewComment

Json = dict[str, Any]

DOCS = "https://docs.github.com/rest"
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
LEVELS = ("read", "triage", "write", "maintain", "admin")


def error(status: int, message: str, **extra: Any) -> Json:
    return {"message": message, "documentation_url": DOCS, "status": str(status), **extra}


@dataclass(frozen=True)
class AppInfo:
    id: int
    slug: str
    name: str
    owner: str
    permissions: dict[str, str]
    events: tuple[str, ...] = ("issue_comment", "pull_request_review_comment", "issues")

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


class Shapes:
    def __init__(self, base_url: str, state: HubState, app: AppInfo) -> None:
        self.base = base_url
        self.state = state
        self.app_info = app

    def api(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def user(self, login: str) -> Json:
        uid = self.state.user_id(login)
        api = self.api(f"users/{login}")
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "avatar_url": f"{self.base}/avatars/u/{uid}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.base}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "user_view_type": "public",
            "site_admin": False,
        }

    def app(self) -> Json:
        a = self.app_info
        return {
            "id": a.id,
            "slug": a.slug,
            "node_id": f"A_{a.id}",
            "client_id": f"Iv1.{a.id:016x}",
            "owner": self.user(a.owner),
            "name": a.name,
            "description": "Runs implement, test and docs agents in parallel",
            "external_url": f"{self.base}/apps/{a.slug}",
            "html_url": f"{self.base}/apps/{a.slug}",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": dict(a.permissions),
            "events": list(a.events),
        }

    def installation(self, inst: Installation) -> Json:
        api = self.api(f"app/installations/{inst.id}")
        return {
            "id": inst.id,
            "account": self.user(inst.account),
            "repository_selection": "selected",
            "access_tokens_url": f"{api}/access_tokens",
            "repositories_url": self.api("installation/repositories"),
            "html_url": f"{self.base}/settings/installations/{inst.id}",
            "app_id": self.app_info.id,
            "app_slug": self.app_info.slug,
            "target_id": self.state.user_id(inst.account),
            "target_type": "User",
            "permissions": dict(inst.permissions),
            "events": list(self.app_info.events),
            "created_at": inst.created_at,
            "updated_at": inst.created_at,
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    def repository(self, repo: RepoState, *, full: bool = True) -> Json:
        return repo_shapes.repository(self, repo, full=full)

    def permission(self, repo: RepoState, login: str, role: str) -> Json:
        granted = set(LEVELS[: LEVELS.index(role) + 1]) if role != "none" else set()
        user = self.user(login) | {
            "permissions": {
                "pull": "read" in granted,
                "triage": "triage" in granted,
                "push": "write" in granted,
                "maintain": "maintain" in granted,
                "admin": "admin" in granted,
            },
            "role_name": role,
        }
        return {"permission": LEGACY_PERMISSION[role], "role_name": role, "user": user}

    def issue_comment(self, c: Comment) -> Json:
        api = self.api(f"repos/{c.owner}/{c.repo}")
        html = f"{self.base}/{c.owner}/{c.repo}/issues/{c.issue_number}"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{api}/issues/comments/{c.id}",
            "html_url": f"{html}#issuecomment-{c.id}",
            "body": c.body,
            "user": self.user(c.user),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "issue_url": f"{api}/issues/{c.issue_number}",
            "author_association": "NONE" if c.via_app else "COLLABORATOR",
            "performed_via_github_app": self.app() if c.via_app else None,
            "reactions": self.reaction_rollup(f"{api}/issues/comments/{c.id}/reactions", c.id),
        }

    def reaction_rollup(self, url: str, subject_id: int) -> Json:
        counts = {k: 0 for k in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes")}
        counts["rocket"] = 0
        with self.state.lock:
            for r in self.state.reactions:
                if r.subject_id == subject_id:
                    counts[r.content] += 1
        return {"url": url, "total_count": sum(counts.values()), **counts}

    def reaction(self, r: Reaction) -> Json:
        return {
            "id": r.id,
            "node_id": f"REA_{r.id}",
            "user": self.user(r.user),
            "content": r.content,
            "created_at": r.created_at,
        }

    def git_ref(self, repo: RepoState, ref: str, sha: str, obj_type: str = "commit") -> Json:
        api = self.api(f"repos/{repo.full_name}/git")
        return {
            "ref": ref,
            "node_id": f"REF_{base64.b64encode(ref.encode()).decode()}",
            "url": f"{api}/{ref}",
            "object": {"type": obj_type, "sha": sha, "url": f"{api}/{obj_type}s/{sha}"},
        }

    def review_comment(self, rc: ReviewComment) -> Json:
        api = self.api(f"repos/{rc.owner}/{rc.repo}")
        html = f"{self.base}/{rc.owner}/{rc.repo}/pull/{rc.pull_number}"
        shape: Json = {
            "url": f"{api}/pulls/comments/{rc.id}",
            "pull_request_review_id": rc.id + 1_000_000,
            "id": rc.id,
            "node_id": f"PRRC_{rc.id}",
            "diff_hunk": rc.diff_hunk,
            "path": rc.path,
            "position": None,
            "original_position": None,
            "commit_id": rc.commit_id,
            "original_commit_id": rc.commit_id,
            "user": self.user(rc.user),
            "body": rc.body,
            "created_at": rc.created_at,
            "updated_at": rc.updated_at,
            "html_url": f"{html}#discussion_r{rc.id}",
            "pull_request_url": f"{api}/pulls/{rc.pull_number}",
            "author_association": "NONE" if rc.via_app else "COLLABORATOR",
            "_links": {
                "self": {"href": f"{api}/pulls/comments/{rc.id}"},
                "html": {"href": f"{html}#discussion_r{rc.id}"},
                "pull_request": {"href": f"{api}/pulls/{rc.pull_number}"},
            },
            "start_line": None,
            "original_start_line": None,
            "start_side": None,
            "line": rc.line,
            "original_line": rc.line,
            "side": "RIGHT",
            "subject_type": "line",
            "reactions": self.reaction_rollup(f"{api}/pulls/comments/{rc.id}/reactions", rc.id),
        }
        if rc.in_reply_to_id is not None:
            shape["in_reply_to_id"] = rc.in_reply_to_id
        return shape

    def content_item(
        self, repo: RepoState, ref: str, path: str, sha: str, size: int, kind: str
    ) -> Json:
        api = self.api(f"repos/{repo.full_name}")
        url = f"{api}/contents/{path}?ref={ref}"
        html = f"{self.base}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
        git_url = f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
        raw = f"{self.base}/raw/{repo.full_name}/{ref}/{path}" if kind == "file" else None
        return {
            "type": kind,
            "size": size,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": url,
            "git_url": git_url,
            "html_url": html,
            "download_url": raw,
            "_links": {"self": url, "git": git_url, "html": html},
        }

    def content_file(self, repo: RepoState, ref: str, path: str, sha: str, data: bytes) -> Json:
        encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 at 60/76 columns
        item = self.content_item(repo, ref, path, sha, len(data), "file")
        return item | {"content": encoded, "encoding": "base64"}

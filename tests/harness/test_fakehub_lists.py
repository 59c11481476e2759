"""fakehub's comment lists as GitHub pages and filters them: `per_page`, `page`, the Link header,
`since`; review-comment replies included; so find-by-marker is testable on long threads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from githubkit import AppInstallationAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy

from tests.fakehub import FakeHub

OWNER, REPO = "octo", "listed"
MARKER = "<!-- orchestrate:run=r1 kind=plan -->"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    with FakeHub(tmp_path_factory.mktemp("fakehub")) as hub:
        hub.add_repo(OWNER, REPO, files={"a.txt": "1\n2\n3\n"})
        yield hub


@pytest.fixture
def gh(hub: FakeHub) -> GitHub[AppInstallationAuthStrategy]:
    return GitHub(
        AppInstallationAuthStrategy(hub.app_id, hub.private_key_pem, 1),
        base_url=hub.base_url,
        cache_strategy=MemCacheStrategy(),
        auto_retry=False,
    )


def api(hub: FakeHub) -> httpx.Client:
    token = hub.issue_token(1)
    return httpx.Client(base_url=hub.base_url, headers={"Authorization": f"token {token}"})


def new_issue(hub: FakeHub) -> int:
    number = hub.state.next_number((OWNER, REPO))
    hub.add_issue(OWNER, REPO, number, "Long thread", "")
    return number


def links(response: httpx.Response) -> dict[str, dict[str, str]]:
    """rel → query parameters of each Link header entry."""
    return {str(rel): dict(httpx.URL(link["url"]).params) for rel, link in response.links.items()}


def test_issue_comments_page_with_link_headers(hub: FakeHub) -> None:
    """150 comments: page 1 of 100 links next/last, page 2 holds the rest and links prev/first;
    the app's marked comment sits on the second page, in creation order."""
    number = new_issue(hub)
    ids = [hub.add_comment(OWNER, REPO, number, f"c{i}", user="alice") for i in range(149)]
    marked = hub.add_app_comment(OWNER, REPO, number, f"{MARKER}\nPlan")
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    with api(hub) as client:
        first = client.get(path, params={"per_page": 100})
        second = client.get(path, params={"per_page": 100, "page": 2})
        default = client.get(path)
    assert [c["id"] for c in first.json()] == ids[:100]
    assert links(first) == {
        "next": {"page": "2", "per_page": "100"},
        "last": {"page": "2", "per_page": "100"},
    }
    assert [c["id"] for c in second.json()] == [*ids[100:], marked]
    assert links(second) == {
        "prev": {"page": "1", "per_page": "100"},
        "first": {"page": "1", "per_page": "100"},
    }
    assert len(default.json()) == 30 and links(default)["last"]["page"] == "5"
    assert second.json()[-1]["performed_via_github_app"]["id"] == hub.app_id


async def test_githubkit_paginates_to_the_marker(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """githubkit's paginator follows the pages to a marked comment at the end of 250."""
    number = new_issue(hub)
    for i in range(249):
        hub.add_comment(OWNER, REPO, number, f"c{i}", user="alice")
    marked = hub.add_app_comment(OWNER, REPO, number, f"{MARKER}\nPlan")
    seen: list[Any] = []
    comment: Any
    async for comment in gh.rest.paginate(
        gh.rest.issues.async_list_comments, owner=OWNER, repo=REPO, issue_number=number,
        per_page=100,
    ):  # fmt: skip
        seen.append(comment)
    assert len(seen) == 250 and [c.id for c in seen if MARKER in (c.body or "")] == [marked]


def test_issue_comments_since(hub: FakeHub) -> None:
    """`since` keeps comments updated at or after the time (any ISO 8601 offset); an edit moves
    a comment into the window; an unreadable `since` is 422."""
    number = new_issue(hub)
    old = hub.add_comment(OWNER, REPO, number, "old", at="2024-01-01T00:00:00Z")
    edge = hub.add_comment(OWNER, REPO, number, "edge", at="2024-01-01T01:00:00Z")
    new = hub.add_comment(OWNER, REPO, number, "new", at="2024-01-01T02:00:00Z")
    mine = hub.add_app_comment(OWNER, REPO, number, "mine", at="2023-12-31T00:00:00Z")
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    with api(hub) as client:

        def since(value: str) -> list[int]:
            return [c["id"] for c in client.get(path, params={"since": value}).json()]

        assert since("2024-01-01T01:00:00Z") == [edge, new]
        assert since("2024-01-01T03:00:00+02:00") == [edge, new]  # 01:00 UTC
        assert since("2025-01-01T00:00:00Z") == []
        edited = client.patch(f"/repos/{OWNER}/{REPO}/issues/comments/{mine}", json={"body": "x"})
        assert edited.status_code == 200
        assert since("2024-06-01T00:00:00Z") == [mine]
        assert old not in since("2024-01-01T00:00:01Z")
        bad = client.get(path, params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["message"] == "Validation Failed"


def test_review_comment_replies_are_listed(hub: FakeHub) -> None:
    """Replies appear in the pull request's list and the repository's, filtered by `since`,
    ordered by `direction`."""
    hub.commit(OWNER, REPO, "orchestrate/review", {"a.txt": "1\n2\nthree\n"})
    pull = hub.add_pull(OWNER, REPO, "orchestrate/review")
    root = hub.add_review_comment(OWNER, REPO, pull, "a.txt", 3, "/orchestrate fix", user="alice")
    repo = f"/repos/{OWNER}/{REPO}"
    with api(hub) as client:
        reply = client.post(
            f"{repo}/pulls/{pull}/comments/{root}/replies", json={"body": f"{MARKER}\nOn it"}
        ).json()
        on_pull = client.get(f"{repo}/pulls/{pull}/comments").json()
        in_repo = client.get(f"{repo}/pulls/comments", params={"direction": "desc"}).json()
        future = client.get(f"{repo}/pulls/comments", params={"since": "2999-01-01T00:00:00Z"})
        bad = client.get(f"{repo}/pulls/comments", params={"sort": "size"})
    assert [(c["id"], c.get("in_reply_to_id")) for c in on_pull] == [
        (root, None),
        (reply["id"], root),
    ]
    assert [c["id"] for c in in_repo][:2] == [reply["id"], root]
    assert future.json() == [] and bad.status_code == 422

"""GitHub's error answers as the app's REST edge maps them (against fakehub): each kind of rate
limit carries the wait GitHub asked for, on every route the app calls; any other 403 is final
and says what was refused; a 422's details survive."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.errors import GitHubError
from bot.github.app import GitHubApp
from bot.github.rest import Installation
from tests.fakehub import FakeHub
from tests.support.stack import github_app

OWNER = "rest-org"


async def installation(hub: FakeHub) -> tuple[GitHubApp, Installation]:
    app = github_app(hub)
    return app, await app.installation(1)


@pytest.mark.parametrize(
    ("kind", "status", "retry_after", "reset_in", "expected"),
    [
        ("secondary", 403, 7, 3600, 7.0),
        ("secondary", 429, None, 3600, 60.0),  # no retry-after: at least a minute
        ("secondary-content", 403, None, 3600, 60.0),
        ("abuse", 403, 11, 3600, 11.0),
        ("primary", 403, None, 30, 31.0),  # until the window resets, and a second
        ("primary", 429, None, 30, 31.0),
    ],
)
async def test_each_rate_limit_carries_githubs_wait(
    hub: FakeHub,
    repo_name: str,
    kind: str,
    status: int,
    retry_after: int | None,
    reset_in: float,
    expected: float,
) -> None:
    """Primary, secondary and abuse answers, as 403 or 429: a GitHubError whose retry_after is
    the wait GitHub named (retry-after, the reset time, or the documented minute)."""
    hub.add_repo(OWNER, repo_name)
    _, gh = await installation(hub)
    route = rf"^/repos/{OWNER}/{repo_name}$"
    hub.inject_rate_limit("GET", route, kind, status=status, retry_after=retry_after,
                          reset_in=reset_in)  # fmt: skip
    with pytest.raises(GitHubError) as caught:
        await gh.default_branch(OWNER, repo_name)
    error = caught.value
    assert error.status == status and error.retry_after is not None
    assert expected - 2 <= error.retry_after <= expected
    assert str(error).startswith(f"read repository: rate limited by GitHub (HTTP {status})")


async def test_every_route_the_app_calls_reports_a_secondary_limit(
    hub: FakeHub, repo_name: str
) -> None:
    """The installation token, the app itself, the permission, the repository, comments (list,
    create, edit), review replies, reactions and pull requests (list, create, edit): each
    answers a secondary limit with a GitHubError carrying GitHub's wait."""
    repo = hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    hub.commit(OWNER, repo_name, "feature", {"x.txt": "x\n"})
    pull = hub.add_pull(OWNER, repo_name, "feature")
    comment = hub.add_app_comment(OWNER, repo_name, 1, "hello")
    review = hub.add_review_comment(OWNER, repo_name, pull, "x.txt", 1, "a thread")
    fresh = GitHubApp(hub.app_id, hub.private_key_pem, hub.base_url)
    _, gh = await installation(hub)
    base = f"/repos/{OWNER}/{repo_name}"
    calls: list[tuple[str, str, Callable[[], Awaitable[object]]]] = [
        ("POST", r"^/app/installations/1/access_tokens$",
         lambda: fresh.installation_token(1, repository_id=repo.id)),
        ("GET", r"^/app$", lambda: fresh.bot_login()),
        ("GET", rf"^{base}/collaborators/alice/permission$",
         lambda: gh.permission(OWNER, repo_name, "alice")),
        ("GET", rf"^{base}$", lambda: gh.repository_id(OWNER, repo_name)),
        ("GET", rf"^{base}/issues/1/comments$",
         lambda: gh.issue_comments(OWNER, repo_name, 1, None)),
        ("POST", rf"^{base}/issues/1/comments$",
         lambda: gh.create_comment(OWNER, repo_name, 1, "x")),
        ("PATCH", rf"^{base}/issues/comments/{comment}$",
         lambda: gh.update_comment(OWNER, repo_name, comment, "y")),
        ("POST", rf"^{base}/issues/comments/{comment}/reactions$",
         lambda: gh.react_to_issue_comment(OWNER, repo_name, comment, "eyes")),
        ("GET", rf"^{base}/pulls/{pull}/comments$",
         lambda: gh.review_comments(OWNER, repo_name, pull, None)),
        ("POST", rf"^{base}/pulls/{pull}/comments/{review}/replies$",
         lambda: gh.reply_to_review_comment(OWNER, repo_name, pull, review, "z")),
        ("GET", rf"^{base}/pulls$", lambda: gh.find_open_pull(OWNER, repo_name, "feature")),
        ("GET", rf"^{base}/pulls/{pull}$", lambda: gh.pull_branches(OWNER, repo_name, pull)),
        ("PATCH", rf"^{base}/pulls/{pull}$",
         lambda: gh.update_pull(OWNER, repo_name, pull, body="b")),
    ]  # fmt: skip
    for method, route, make in calls:
        hub.inject_rate_limit(method, route, "secondary", retry_after=5)
        with pytest.raises(GitHubError) as caught:
            await make()
        assert (caught.value.status, caught.value.retry_after) == (403, 5.0), route
        await make()  # the limit has passed: the same call goes through


async def test_a_403_that_is_no_rate_limit_says_what_was_refused(
    hub: FakeHub, repo_name: str
) -> None:
    """A missing permission: final (no wait cures it), and the message names the call."""
    hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    _, gh = await installation(hub)
    hub.inject(
        "POST",
        rf"^/repos/{OWNER}/{repo_name}/issues/1/comments$",
        status=403,
        body={"message": "Resource not accessible by integration"},
    )
    with pytest.raises(GitHubError) as caught:
        await gh.create_comment(OWNER, repo_name, 1, "x")
    assert (caught.value.status, caught.value.retry_after) == (403, None)
    assert str(caught.value) == (
        "create comment: refused by GitHub (HTTP 403: Resource not accessible by integration). "
        "The app's installation lacks a permission for this, or the repository does not allow it."
    )


async def test_a_validation_failure_keeps_githubs_reason(hub: FakeHub, repo_name: str) -> None:
    """GitHub's 422 says "Validation Failed" and puts the reason in its errors: both are kept."""
    hub.add_repo(OWNER, repo_name)
    _, gh = await installation(hub)
    with pytest.raises(GitHubError) as caught:
        await gh.create_pull(
            OWNER, repo_name, title="T", head="main", base="main", body="", draft=False
        )
    assert caught.value.status == 422
    assert "Validation Failed: No commits between main and main" in str(caught.value)

"""The GitHub forge against fakehub: the command's repository and commenter, follow-ups, and
the run's one pull request."""

from __future__ import annotations

import pytest

from bot.core.targets import CommentKind, RepoRef, Target
from bot.github.forge import GitHubForge, git_base_url
from bot.github.models import FollowUp
from bot.render import messages
from tests.fakehub import FakeHub
from tests.support.stack import github_app

OWNER = "forge-org"


def target(hub: FakeHub, repo: str, number: int = 1, *, repo_id: int | None = None) -> Target:
    state = hub.repo(OWNER, repo)
    return Target(
        installation_id=state.installation_id,
        repo=RepoRef(id=state.id if repo_id is None else repo_id, owner=OWNER, name=repo),
        issue_number=number,
        comment_kind=CommentKind.ISSUE,
        comment_id=1,
    )


@pytest.mark.parametrize(
    ("api", "git"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example/api/v3/", "https://ghe.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_git_lives_beside_the_rest_api(api: str, git: str) -> None:
    """github.com serves git on its own host, GHES under its root, an emulator at its URL."""
    assert git_base_url(api) == git


async def test_access_confirms_the_repository_then_reads_the_role(
    hub: FakeHub, repo_name: str
) -> None:
    """A commenter's role is read only once the payload's repository id is the repository
    named; otherwise the repository is not confirmed and no role is read."""
    hub.add_repo(OWNER, repo_name)
    hub.set_permission(OWNER, repo_name, "alice", "maintain")
    forge = GitHubForge(github_app(hub))
    access = await forge.access(target(hub, repo_name), "alice")
    assert (access.repository_confirmed, access.permission) == (True, "maintain")
    other_id = hub.repo(OWNER, repo_name).id + 1000
    wrong = await forge.access(target(hub, repo_name, repo_id=other_id), "alice")
    assert (wrong.repository_confirmed, wrong.permission) == (False, "none")


async def test_follow_up_only_on_the_apps_own_open_pull_request(
    hub: FakeHub, repo_name: str
) -> None:
    """A follow-up works on the branch of an open pull request the app opened from its own
    prefix; someone else's, or a closed one, is refused with the message for it."""
    hub.add_repo(OWNER, repo_name)
    ours = hub.add_pull(OWNER, repo_name, "orchestrate/1-flag")
    theirs = hub.add_pull(OWNER, repo_name, "feature", user="octocat")
    closed = hub.add_pull(OWNER, repo_name, "orchestrate/2-gone")
    hub.state.pulls[(OWNER, repo_name)][closed].state = "closed"
    forge = GitHubForge(github_app(hub))
    assert await forge.follow_up(target(hub, repo_name, ours)) == FollowUp(
        branch="orchestrate/1-flag", base="main"
    )
    refused = await forge.follow_up(target(hub, repo_name, theirs))
    assert refused.refusal == messages.follow_up_not_ours()
    gone = await forge.follow_up(target(hub, repo_name, closed))
    assert gone.refusal == messages.follow_up_closed()


async def test_open_pull_refreshes_the_body_of_the_open_one(hub: FakeHub, repo_name: str) -> None:
    """A second open (a retried activity, a follow-up) finds the branch's open pull request and
    refreshes its body instead of opening another."""
    hub.add_repo(OWNER, repo_name)
    branch = "orchestrate/3-twice"
    hub.commit(OWNER, repo_name, branch, {"x.txt": "x\n"})
    forge = GitHubForge(github_app(hub))
    where = target(hub, repo_name)
    first = await forge.open_pull(
        where, head=branch, base="main", title="T", body="one", draft=True
    )
    again = await forge.open_pull(
        where, head=branch, base="main", title="T", body="two", draft=True
    )
    assert (again.number, again.draft) == (first.number, True)
    [pull] = hub.state.pulls_of(OWNER, repo_name)
    assert (pull.body, pull.head_ref) == ("two", branch)

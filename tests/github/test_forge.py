"""The GitHub forge against fakehub: the command's repository and commenter, follow-ups, the
run's one pull request, and comments found (not posted twice) after an answer was lost."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.targets import CommentKey, CommentKind, RepoRef, Target
from bot.errors import GitHubError
from bot.github.forge import GitHubForge, git_base_url
from bot.github.models import FollowUp
from bot.render import messages
from bot.render.markers import marked
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


KEY = CommentKey(run="orchestrate-run-9-1-77", kind="plan", since="2020-01-01T00:00:00+00:00")


def app_bodies(hub: FakeHub, repo: str, number: int = 1) -> list[str]:
    return [c.body for c in hub.state.comments_on(OWNER, repo, number) if c.via_app]


@pytest.mark.parametrize("cut", [None, "before", "mid"])
async def test_a_comment_whose_answer_was_lost_is_found_not_posted_again(
    hub: FakeHub, repo_name: str, cut: str | None
) -> None:
    """GitHub creates the comment but the answer is lost (a 502, a closed connection, half an
    answer): the retry finds the comment by its marker and returns it; one comment exists."""
    hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    forge = GitHubForge(github_app(hub))
    hub.inject_lost_answer("POST", rf"^/repos/{OWNER}/{repo_name}/issues/1/comments$", cut=cut)
    with pytest.raises(GitHubError):
        await forge.post_comment(target(hub, repo_name), "the plan", KEY)
    found = await forge.post_comment(target(hub, repo_name), "the plan", KEY)
    again = await forge.post_comment(target(hub, repo_name), "the plan", KEY)
    assert found == again
    [body] = app_bodies(hub, repo_name)
    assert body == marked(KEY, "the plan")
    assert found.id == next(c.id for c in hub.state.comments_on(OWNER, repo_name, 1))


async def test_a_review_reply_whose_answer_was_lost_is_found_not_posted_again(
    hub: FakeHub, repo_name: str
) -> None:
    """The same for a reply in a review thread: one reply, found by its marker."""
    hub.add_repo(OWNER, repo_name)
    hub.commit(OWNER, repo_name, "orchestrate/1-x", {"x.txt": "x\n"})
    pull = hub.add_pull(OWNER, repo_name, "orchestrate/1-x")
    thread = hub.add_review_comment(OWNER, repo_name, pull, "x.txt", 1, "/orchestrate more")
    forge = GitHubForge(github_app(hub))
    where = target(hub, repo_name, pull).model_copy(
        update={"comment_kind": CommentKind.REVIEW, "comment_id": thread}
    )
    replies = rf"^/repos/{OWNER}/{repo_name}/pulls/{pull}/comments/{thread}/replies$"
    hub.inject_lost_answer("POST", replies, cut="before")
    with pytest.raises(GitHubError):
        await forge.reply(where, "Pushed 1 commit.", KEY)
    await forge.reply(where, "Pushed 1 commit.", KEY)
    ours = [c.body for c in hub.state.thread_of(thread) if c.via_app]
    assert ours == [marked(KEY, "Pushed 1 commit.")]


async def test_a_persons_copy_of_the_marker_is_not_the_apps_comment(
    hub: FakeHub, repo_name: str
) -> None:
    """Someone pastes the app's marker into their own comment: the app still posts its own (a
    copied marker cannot silence it), and edits only that one."""
    hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    hub.add_comment(OWNER, repo_name, 1, marked(KEY, "fake plan"), user="mallory")
    forge = GitHubForge(github_app(hub))
    posted = await forge.post_comment(target(hub, repo_name), "the plan", KEY)
    await forge.edit_comment(target(hub, repo_name), posted.id, "the plan, edited", KEY)
    assert app_bodies(hub, repo_name) == [marked(KEY, "the plan, edited")]


async def test_the_marker_is_found_past_the_first_page(hub: FakeHub, repo_name: str) -> None:
    """A busy thread: 130 comments after the app's, the search pages on and finds it."""
    hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    for i in range(100):
        hub.add_comment(OWNER, repo_name, 1, f"before {i}", user="alice")
    mine = hub.add_app_comment(OWNER, repo_name, 1, marked(KEY, "the plan"))
    for i in range(30):
        hub.add_comment(OWNER, repo_name, 1, f"after {i}", user="alice")
    forge = GitHubForge(github_app(hub))
    found = await forge.post_comment(target(hub, repo_name), "the plan", KEY)
    assert found.id == mine and len(app_bodies(hub, repo_name)) == 1


async def test_the_search_looks_back_only_to_the_keys_time(hub: FakeHub, repo_name: str) -> None:
    """A comment last updated before the key's `since` is outside the search (GitHub's `since`):
    the window stays small on long-lived issues."""
    hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    hub.add_app_comment(OWNER, repo_name, 1, marked(KEY, "old"), at="2019-12-31T23:59:59Z")
    forge = GitHubForge(github_app(hub))
    await forge.post_comment(target(hub, repo_name), "new", KEY)
    assert app_bodies(hub, repo_name) == [marked(KEY, "old"), marked(KEY, "new")]


async def test_a_pull_request_whose_answer_was_lost_is_found_and_refreshed(
    hub: FakeHub, repo_name: str
) -> None:
    """GitHub opens the pull request but the answer is lost: the retry finds it by its branch
    and refreshes its body; one pull request."""
    hub.add_repo(OWNER, repo_name)
    branch = "orchestrate/4-lost"
    hub.commit(OWNER, repo_name, branch, {"x.txt": "x\n"})
    forge = GitHubForge(github_app(hub))
    hub.inject_lost_answer("POST", rf"^/repos/{OWNER}/{repo_name}/pulls$", cut="mid")
    where = target(hub, repo_name)
    with pytest.raises(GitHubError):
        await forge.open_pull(where, head=branch, base="main", title="T", body="1", draft=False)
    pull = await forge.open_pull(where, head=branch, base="main", title="T", body="2", draft=False)
    [opened] = hub.state.pulls_of(OWNER, repo_name)
    assert (pull.number, opened.body) == (opened.number, "2")


async def test_a_pull_request_opened_meanwhile_is_found_after_githubs_422(
    hub: FakeHub, repo_name: str
) -> None:
    """Two attempts both see no pull request, both create: GitHub refuses the second with 422
    "A pull request already exists"; that attempt finds the first one's and refreshes it."""
    hub.add_repo(OWNER, repo_name)
    branch = "orchestrate/5-race"
    hub.commit(OWNER, repo_name, branch, {"x.txt": "x\n"})
    forge = GitHubForge(github_app(hub))
    await forge.default_branch(target(hub, repo_name))  # the token, minted before the race
    hub.inject("GET", rf"^/repos/{OWNER}/{repo_name}/pulls$", delay=0.5, times=2)
    where = target(hub, repo_name)
    opened = await asyncio.gather(
        *(
            forge.open_pull(where, head=branch, base="main", title="T", body=b, draft=False)
            for b in ("one", "two")
        )
    )
    [pull] = hub.state.pulls_of(OWNER, repo_name)
    assert {p.number for p in opened} == {pull.number}
    assert any(
        method == "POST" and path.endswith("/pulls") and status == 422
        for method, path, status in hub.state.requests
        if repo_name in path
    )


async def test_a_repeated_reaction_is_not_an_error(hub: FakeHub, repo_name: str) -> None:
    """A reaction whose answer was lost, added again: GitHub answers with the one it has; one
    reaction exists."""
    hub.add_repo(OWNER, repo_name)
    hub.add_issue(OWNER, repo_name, 1, "t", "b")
    comment = hub.add_comment(OWNER, repo_name, 1, "/orchestrate help", user="alice")
    where = target(hub, repo_name).model_copy(update={"comment_id": comment})
    forge = GitHubForge(github_app(hub))
    reactions = rf"^/repos/{OWNER}/{repo_name}/issues/comments/{comment}/reactions$"
    hub.inject_lost_answer("POST", reactions, cut="before")
    with pytest.raises(GitHubError):
        await forge.react(where, "eyes")
    await forge.react(where, "eyes")
    assert [r.content for r in hub.state.reactions_on(comment)] == ["eyes"]

"""The short messages: failures, approvals, follow-up replies and command answers."""

from __future__ import annotations

from bot.core.results import TestRound as Round
from bot.render import messages
from bot.render.markdown import ZWSP
from bot.render.messages import approval_expired, follow_up_reply, run_failed
from bot.render.states import approval_expired_state, cancelled_state
from tests.render.helpers import (
    PING,
    comment,
    fence_blocks,
    make_plan,
)
from tests.support.gfm import render


def test_run_failed_quotes_the_reason_in_a_fence_it_cannot_close() -> None:
    """A reason with backticks and markup stays inside its fence."""
    reason = "boom ```\n<!-- x --> @octocat"
    blocks = fence_blocks(run_failed(reason))
    assert blocks == [("````text", reason.splitlines())]


def test_cancel_and_approval_messages() -> None:
    """The cancelling login is cleaned; the approval timeout names its hours."""
    assert cancelled_state("alice") == "cancelled by @alice"
    assert cancelled_state("bad <b>name") == cancelled_state("badbname")
    assert "24 hours" in approval_expired(24.0)
    assert approval_expired_state(1.5) == "stopped: not approved within 1.5 hours"


def test_cancelled_state_in_the_plan_comment_pings_nobody() -> None:
    """The run state is shown without turning the login into a mention."""
    text = comment(make_plan(), run_state=cancelled_state("alice"))
    assert f"cancelled by @{ZWSP}alice" in text


def test_follow_up_reply_names_commits_and_tests() -> None:
    """The review-thread answer lists short shas and the last test verdict."""
    rounds = [Round(round=1, command="t", passed=True, exit_code=0)]
    text = follow_up_reply(commits=["a" * 40, "b" * 40], rounds=rounds)
    assert text == "Pushed 2 commits: aaaaaaa, bbbbbbb. The tests pass (round 1)."
    assert follow_up_reply(commits=[], rounds=[]).startswith("Done: no change")


def test_links_to_the_apps_own_pull_request_only() -> None:
    """The PR's URL from GitHub stays a link; anything else in its place is inert text."""
    url = "https://github.com/o/r/pull/9"
    assert follow_up_reply(commits=[], rounds=[], pr_url=url).endswith(f" {url}")
    for odd in ("https://evil.example/o/r/pull/9?x=1", "[x](https://evil.example)", "@octocat"):
        page = render(comment(make_plan(), pr_url=odd))
        assert page.tags.count("a") == 0 and not PING.search(comment(make_plan(), pr_url=odd))


def test_follow_up_reply_shows_only_commit_shas() -> None:
    """Anything but a hex SHA in the commit list is shown as `?`."""
    text = follow_up_reply(commits=["@everyone-and-more", "c" * 40], rounds=[])
    assert text == "Pushed 2 commits: ?, ccccccc."


def test_command_replies_mention_only_the_commenter_and_link_only_the_run() -> None:
    """The commenter is reduced to login characters; the run's link stays a link only when it
    is the app's own comment URL (or the command's, in a review thread), anything else is
    inert text."""
    link = "https://github.com/o/r/issues/1#issuecomment-5"
    text = messages.run_queued("maintainer", 1, link)
    assert text.startswith(f"@maintainer a run is already going on this issue: {link}. ")
    thread = "https://github.com/o/r/pull/2#discussion_r9"
    assert f": {thread}. " in messages.run_queued("maintainer", 2, thread)
    odd = messages.run_queued("a<b>@c", 1, "[x](https://evil.example) @octocat")
    page = render(odd)
    assert odd.startswith("@abc ") and "a" not in page.tags and not PING.search(odd[1:])
    reply = messages.no_run_to_signal("me", "cancel @octocat")
    assert reply.startswith("@me ") and not PING.search(reply[1:])


def test_queued_reply_says_how_many_wait_before_it() -> None:
    """First in the queue: after the running one; third: after it and two more; no link known:
    no link shown."""
    link = "https://github.com/o/r/issues/1#issuecomment-5"
    assert "starts after it;" in messages.run_queued("me", 1, link)
    assert "starts after it and 2 more queued before yours;" in messages.run_queued("me", 3, link)
    assert messages.run_queued("me", 1, "").startswith("@me a run is already going on this issue. ")


def test_cancel_replies_name_who_cancelled_without_pinging_them() -> None:
    """The canceller is named but not mentioned again; only the commenter is pinged."""
    text = messages.cancelled_before_start("alice", "bob")
    assert text.startswith("@alice ") and "bob" in text and not PING.search(text[1:])
    assert messages.nothing_to_cancel("bob").startswith("@bob no run posted before this command")

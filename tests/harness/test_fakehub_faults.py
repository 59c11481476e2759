"""Self-tests of fakehub's durability faults: answers lost after the change was applied, GitHub's
rate limits, failing git pushes and fetches, and request hooks."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from githubkit import AppInstallationAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import (
    PrimaryRateLimitExceeded,
    RequestFailed,
    SecondaryRateLimitExceeded,
)

from bot.core.ratelimits import github_retry_delay
from tests.fakehub import FakeHub
from tests.fakehub.hooks import SeenRequest

OWNER, REPO = "octo", "faulty"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    with FakeHub(tmp_path_factory.mktemp("fakehub")) as hub:
        hub.add_repo(OWNER, REPO, files={"README.md": "# faulty\n"})
        yield hub


@pytest.fixture(autouse=True)
def no_leftover_faults(hub: FakeHub) -> Iterator[None]:
    yield
    hub.clear_faults()


@pytest.fixture
def gh(hub: FakeHub) -> GitHub[AppInstallationAuthStrategy]:
    return GitHub(
        AppInstallationAuthStrategy(hub.app_id, hub.private_key_pem, 1),
        base_url=hub.base_url,
        cache_strategy=MemCacheStrategy(),
        auto_retry=False,
    )


def api(hub: FakeHub) -> httpx.Client:
    """A plain client with an installation token: every header and byte of the answer visible."""
    token = hub.issue_token(1)
    return httpx.Client(base_url=hub.base_url, headers={"Authorization": f"token {token}"})


def new_issue(hub: FakeHub) -> int:
    """A fresh issue; its number (issues and pull requests share one number space)."""
    number = hub.state.next_number((OWNER, REPO))
    hub.add_issue(OWNER, REPO, number, f"Issue {number}", "")
    return number


def app_comments(hub: FakeHub, number: int) -> list[str]:
    return [c.body for c in hub.state.comments_on(OWNER, REPO, number) if c.via_app]


# -- applied, answer lost ------------------------------------------------------------------------

Call = tuple[str, str, dict[str, Any], Callable[[], int]]


def creating_call(hub: FakeHub, what: str) -> Call:
    """A creating route the app uses: (method, path, json, how many such objects exist)."""
    repo = f"/repos/{OWNER}/{REPO}"
    number = new_issue(hub)
    if what == "comment":
        return ("POST", f"{repo}/issues/{number}/comments", {"body": "plan"},
                lambda: len(app_comments(hub, number)))  # fmt: skip
    if what == "reaction":
        person = hub.add_comment(OWNER, REPO, number, "/orchestrate go", user="alice")
        return ("POST", f"{repo}/issues/comments/{person}/reactions", {"content": "eyes"},
                lambda: len(hub.state.reactions_on(person)))  # fmt: skip
    branch = f"orchestrate/lost-{number}"
    hub.commit(OWNER, REPO, branch, {"lost.txt": f"{number}\n"})
    if what == "pull":
        return ("POST", f"{repo}/pulls", {"title": "T", "head": branch, "base": "main"},
                lambda: sum(p.head_ref == branch for p in hub.state.pulls_of(OWNER, REPO)))  # fmt: skip
    pull = hub.add_pull(OWNER, REPO, branch, user="alice")
    root = hub.add_review_comment(OWNER, REPO, pull, "lost.txt", 1, "/orchestrate x", user="alice")
    return ("POST", f"{repo}/pulls/{pull}/comments/{root}/replies", {"body": "done"},
            lambda: sum(r.in_reply_to_id == root for r in hub.state.review_replies))  # fmt: skip


@pytest.mark.parametrize("what", ["comment", "pull", "reaction", "reply"])
def test_lost_answer_is_applied_then_502(hub: FakeHub, what: str) -> None:
    """The handler runs (the object exists), then the client gets GitHub's 502 JSON instead."""
    method, path, payload, count = creating_call(hub, what)
    hub.inject_lost_answer(method, f"^{path}$")
    with api(hub) as client:
        lost = client.request(method, path, json=payload)
        assert lost.status_code == 502
        assert lost.json() == {
            "message": "Bad Gateway",
            "documentation_url": "https://docs.github.com/rest",
            "status": "502",
        }
        assert lost.headers["content-type"] == "application/json; charset=utf-8"
        assert lost.headers["x-github-request-id"]
        assert count() == 1
        assert hub.state.lost_answers[-1] == (method, path, 201)
        assert hub.state.requests[-1] == (method, path, 502)
        # The fault is spent: a retry is served, and does what a blind retry does on GitHub.
        again = client.request(method, path, json=payload)
    assert again.status_code != 502


@pytest.mark.parametrize("cut", ["before", "mid"])
def test_lost_answer_by_a_dropped_connection(hub: FakeHub, cut: str) -> None:
    """With `cut` the connection closes (no answer / a truncated one), yet the comment exists."""
    number = new_issue(hub)
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    hub.inject_lost_answer("POST", path, cut=cut)
    with api(hub) as client, pytest.raises(httpx.RemoteProtocolError) as raised:
        client.post(path, json={"body": "plan"})
    expected = "without sending a response" if cut == "before" else "complete message body"
    assert expected in str(raised.value)
    assert app_comments(hub, number) == ["plan"]
    assert hub.state.lost_answers[-1] == ("POST", path, 201)
    assert hub.state.requests[-1] == ("POST", path, 0 if cut == "before" else 201)


def test_lost_answer_times_and_method_patterns(hub: FakeHub) -> None:
    """`times` answers are lost on any method ("*") matching the pattern, then all are served."""
    number = new_issue(hub)
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    hub.inject_lost_answer("*", rf"/issues/{number}/comments$", times=2, status=504)
    with api(hub) as client:
        statuses = [client.post(path, json={"body": f"c{i}"}).status_code for i in range(2)]
        listed = client.get(path)
    assert statuses == [504, 504] and listed.status_code == 200
    assert app_comments(hub, number) == ["c0", "c1"]  # both applied


async def test_lost_answer_through_githubkit(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """githubkit sees a plain 502 RequestFailed, while the comment was created."""
    number = new_issue(hub)
    await gh.rest.issues.async_get(OWNER, REPO, number)  # token exchange out of the way
    hub.inject_lost_answer("POST", rf"/issues/{number}/comments$")
    with pytest.raises(RequestFailed) as raised:
        await gh.rest.issues.async_create_comment(OWNER, REPO, number, body="plan")
    assert raised.value.response.status_code == 502
    assert app_comments(hub, number) == ["plan"]


def test_cut_mid_needs_applied(hub: FakeHub) -> None:
    """A truncated answer needs a real one to truncate; unknown cuts are refused."""
    with pytest.raises(ValueError, match="applied"):
        hub.inject("POST", "/x", cut="mid")
    with pytest.raises(ValueError, match="cut must be"):
        hub.inject("POST", "/x", cut="sideways")


def test_plain_cut_drops_without_applying(hub: FakeHub) -> None:
    """cut="before" without `applied`: the connection closes and nothing happens."""
    number = new_issue(hub)
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    hub.inject("POST", path, cut="before")
    with api(hub) as client, pytest.raises(httpx.RemoteProtocolError):
        client.post(path, json={"body": "plan"})
    assert app_comments(hub, number) == []


# -- rate limits ---------------------------------------------------------------------------------


def test_primary_rate_limit_answer(hub: FakeHub) -> None:
    """Primary: 403, remaining 0, used = limit, reset ahead, GitHub's message and request id."""
    number = new_issue(hub)
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    hub.inject_rate_limit("POST", path, "primary", reset_in=600)
    with api(hub) as client:
        answer = client.post(path, json={"body": "plan"})
    now = time.time()
    h = answer.headers
    assert answer.status_code == 403 and "retry-after" not in h
    assert (h["x-ratelimit-limit"], h["x-ratelimit-remaining"], h["x-ratelimit-used"]) == (
        "5000",
        "0",
        "5000",
    )
    assert h.get_list("x-ratelimit-remaining") == ["0"]  # GitHub's default replaced, not doubled
    assert 590 <= int(h["x-ratelimit-reset"]) - now <= 601
    rid = h["x-github-request-id"]
    assert answer.json() == {
        "message": "API rate limit exceeded for installation ID 1. If you reach out to GitHub "
        f"Support for help, please include the request ID {rid}.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        "status": "403",
    }
    assert len(rid.split(":")) == 5
    assert app_comments(hub, number) == []  # refused, not applied
    delay = github_retry_delay(403, h, answer.json()["message"], now, maximum=3600)
    assert delay is not None and 590 <= delay <= 602


@pytest.mark.parametrize(
    ("kind", "status", "retry_after", "phrase"),
    [
        ("secondary", 403, 30, "You have exceeded a secondary rate limit. Please wait"),
        ("secondary", 403, None, "You have exceeded a secondary rate limit. Please wait"),
        ("secondary", 429, 7, "You have exceeded a secondary rate limit. Please wait"),
        ("secondary-content", 403, 60, "temporarily blocked from content creation"),
        ("abuse", 429, 45, "You have triggered an abuse detection mechanism."),
    ],
)
def test_secondary_rate_limit_answers(
    hub: FakeHub, kind: str, status: int, retry_after: int | None, phrase: str
) -> None:
    """Secondary and abuse limits: the status, the message, `retry-after` only when given, and
    quota left (x-ratelimit-remaining is not 0); nothing is applied."""
    number = new_issue(hub)
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    hub.inject_rate_limit("POST", path, kind, status=status, retry_after=retry_after)
    with api(hub) as client:
        answer = client.post(path, json={"body": "plan"})
    body = answer.json()
    assert answer.status_code == status and phrase in body["message"]
    assert body["status"] == str(status)
    assert answer.headers.get("retry-after") == (None if retry_after is None else str(retry_after))
    assert int(answer.headers["x-ratelimit-remaining"]) > 0
    assert hub.state.requests[-1] == ("POST", path, status)
    assert app_comments(hub, number) == []
    expected = float(retry_after) if retry_after is not None else 60.0
    delay = github_retry_delay(status, answer.headers, body["message"], time.time(), maximum=900)
    assert delay == expected


async def test_rate_limits_as_githubkit_classifies_them(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """githubkit (which reads GitHub's documented signals) sees primary and secondary limits."""
    number = new_issue(hub)
    await gh.rest.issues.async_get(OWNER, REPO, number)
    hub.inject_rate_limit("GET", rf"/issues/{number}$", "primary", status=429, reset_in=120)
    with pytest.raises(PrimaryRateLimitExceeded) as primary:
        await gh.rest.issues.async_get(OWNER, REPO, number)
    assert 110 <= primary.value.retry_after.total_seconds() <= 121
    hub.inject_rate_limit("GET", rf"/issues/{number}$", "secondary", retry_after=33)
    with pytest.raises(SecondaryRateLimitExceeded) as secondary:
        await gh.rest.issues.async_get(OWNER, REPO, number)
    assert secondary.value.retry_after.total_seconds() == 33
    assert (await gh.rest.issues.async_get(OWNER, REPO, number)).status_code == 200


def test_rate_limit_times_and_unknown_kind(hub: FakeHub) -> None:
    """A limit answers `times` requests, then the route serves again; unknown kinds refused."""
    path = f"/repos/{OWNER}/{REPO}"
    hub.inject_rate_limit("GET", f"^{path}$", "secondary", times=2, retry_after=1)
    with api(hub) as client:
        assert [client.get(path).status_code for _ in range(3)] == [403, 403, 200]
    with pytest.raises(ValueError, match="unknown rate-limit kind"):
        hub.inject_rate_limit("GET", path, "tertiary")


# -- git: pushes applied then cut, fetches refused -----------------------------------------------


def git(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "bot",
        "GIT_AUTHOR_EMAIL": "bot@example.invalid",
        "GIT_COMMITTER_NAME": "bot",
        "GIT_COMMITTER_EMAIL": "bot@example.invalid",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def cloned(hub: FakeHub, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    auth = hub.git_auth_env(hub.issue_token(1))
    done = git("clone", hub.git_url(OWNER, REPO), "work", cwd=tmp_path, env=auth)
    assert done.returncode == 0, done.stderr
    return tmp_path / "work", auth


@pytest.mark.parametrize(("status", "cut"), [(500, None), (502, None), (500, "before")])
def test_push_applied_then_answer_lost(
    hub: FakeHub, tmp_path: Path, status: int, cut: str | None
) -> None:
    """receive-pack runs (the branch moves, the push is recorded), then git gets an error and
    fails; pushing again finds everything up to date. On a closed connection curl resends the
    request once (as it would against GitHub), and the resend finds the branch already moved."""
    work, auth = cloned(hub, tmp_path)
    branch = f"orchestrate/push-lost-{status}-{cut}"
    git("commit", "--allow-empty", "-m", "work", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    hub.inject_push_lost(OWNER, REPO, status=status, cut=cut)
    failed = git("push", "origin", f"HEAD:refs/heads/{branch}", cwd=work, env=auth)
    assert failed.returncode != 0
    expected = f"HTTP {status}" if cut is None else "(failed to update ref)"
    assert expected in failed.stderr
    assert hub.branch_sha(OWNER, REPO, branch) == head
    assert [p.new for p in hub.state.pushes_to(OWNER, REPO) if p.ref.endswith(branch)] == [head]
    assert hub.state.lost_answers[-1] == ("POST", f"/{OWNER}/{REPO}.git/git-receive-pack", 200)
    again = git("push", "origin", f"HEAD:refs/heads/{branch}", cwd=work, env=auth)
    assert again.returncode == 0 and "Everything up-to-date" in again.stderr


def test_fetch_refused_before_anything(hub: FakeHub, tmp_path: Path) -> None:
    """A fetch fails with the status before any object is sent; the next one works."""
    work, auth = cloned(hub, tmp_path)
    sha = hub.commit(OWNER, REPO, "orchestrate/fetch-me", {"f.txt": "f\n"})
    hub.inject_fetch_failure(OWNER, REPO, status=500)
    failed = git("fetch", "origin", "orchestrate/fetch-me", cwd=work, env=auth)
    assert failed.returncode != 0 and "500" in failed.stderr
    assert git("cat-file", "-e", sha, cwd=work).returncode != 0  # nothing arrived
    fetched = git("fetch", "origin", "orchestrate/fetch-me", cwd=work, env=auth)
    assert fetched.returncode == 0, fetched.stderr
    assert git("rev-parse", "FETCH_HEAD", cwd=work).stdout.strip() == sha


# -- request hooks -------------------------------------------------------------------------------


def test_arrival_hook_runs_before_the_handler(hub: FakeHub) -> None:
    """An arrival hook sees the whole request arrived (and the caller's port) before any state
    changes; the request is then served as usual."""
    number = new_issue(hub)
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    seen: list[tuple[SeenRequest, list[str]]] = []
    hub.on_request(
        "POST",
        rf"/issues/{number}/comments$",
        lambda s: seen.append((s, app_comments(hub, number))),
    )
    with api(hub) as client:
        answer = client.post(path, json={"body": "plan"})
        second = client.post(path, json={"body": "again"})  # times=1: the hook is spent
    [(request, comments_then)] = seen
    assert (request.method, request.path, comments_then) == ("POST", path, [])
    assert request.client is not None and request.client[0] == "127.0.0.1"
    assert answer.status_code == second.status_code == 201
    assert app_comments(hub, number) == ["plan", "again"]


def test_applied_hook_runs_before_the_answer(hub: FakeHub) -> None:
    """An `applied` hook runs after the handler changed the state but before the client gets the
    answer: the callback finds the comment, and the client waits for the callback to finish."""
    number = new_issue(hub)
    path = f"/repos/{OWNER}/{REPO}/issues/{number}/comments"
    found: list[list[str]] = []

    def slow(_: SeenRequest) -> None:
        found.append(app_comments(hub, number))
        time.sleep(0.3)

    hub.on_request("POST", rf"/issues/{number}/comments$", slow, applied=True)
    started = time.monotonic()
    with api(hub) as client:
        answer = client.post(path, json={"body": "plan"})
    assert answer.status_code == 201 and time.monotonic() - started >= 0.3
    assert found == [["plan"]]


def test_hook_errors_are_kept_and_the_request_served(hub: FakeHub) -> None:
    """A failing callback does not fail the request; the error is kept for the test to see."""
    path = f"/repos/{OWNER}/{REPO}"

    def broken(_: SeenRequest) -> None:
        raise RuntimeError("callback broke")

    hub.on_request("GET", f"^{path}$", broken)
    with api(hub) as client:
        assert client.get(path).status_code == 200
    assert any("callback broke" in str(e) for e in hub.hooks.errors)

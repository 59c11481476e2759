"""What reaches the remote: the scratch branch, and pushes that rebase onto what others pushed."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.checkout import open_worktree
from bot.git.history import log_with_trailers
from bot.git.mirror import (
    MirrorCache,
)
from bot.git.parse import parse_agent_log
from bot.git.refs import create_branch, push
from tests.fakehub import FakeHub
from tests.git.helpers import BRANCH, git, remote_sha, two_agents


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

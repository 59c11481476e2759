"""The mirror cache: one mirror per scope and URL, synced under a lock, its own files checked before a token is used."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.checkout import open_worktree, remove_worktree
from bot.git.mirror import (
    MIRROR_CONFIG,
    MIRROR_CONFIG_LIST,
    MirrorCache,
    tampering,
    write_pristine_config,
)
from bot.git.refs import push
from tests.fakehub import FakeHub
from tests.git.helpers import BRANCH, git, remote_sha


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

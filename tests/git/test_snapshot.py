"""A revision's top-level files from git objects (only regular files, blobs capped) and a
throwaway detached worktree of it, removed afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.mirror import MirrorCache
from bot.git.snapshot import open_snapshot, read_blob, read_blobs, top_level_blobs
from tests.git.helpers import git


async def _revision(tmp_path: Path, remote: Remote) -> str:
    """A commit on main with a regular file, an executable, a symlink, a directory and a
    nested manifest; returns its sha."""
    seed = tmp_path / "seed2"
    await git(tmp_path, "clone", "--quiet", remote.url, str(seed))
    (seed / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (seed / "run.sh").write_text("#!/bin/sh\n")
    (seed / "run.sh").chmod(0o755)
    (seed / "setup.cfg").symlink_to("/etc/passwd")
    (seed / "sub").mkdir()
    (seed / "sub" / "requirements.txt").write_text("x\n")
    await git(seed, "add", "-A")
    await git(seed, "commit", "--quiet", "-m", "manifests")
    await git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return (await git(seed, "rev-parse", "HEAD")).strip()


async def test_top_level_blobs_are_the_regular_files_only(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Regular and executable files at the top are listed; a symlink, a directory and files
    below it are not; a blob is read whole, or not at all when over the cap."""
    revision = await _revision(tmp_path, remote)
    mirror = await cache.sync(remote)
    blobs = await top_level_blobs(cache.git, mirror, revision)
    assert sorted(blobs) == ["pyproject.toml", "run.sh", "shared.txt"]
    text = await read_blob(cache.git, mirror, blobs["pyproject.toml"], 100)
    assert text == b"[project]\nname = 'x'\n"
    assert await read_blob(cache.git, mirror, blobs["pyproject.toml"], 10) is None
    with pytest.raises(GitError, match="not a blob id"):
        await read_blob(cache.git, mirror, "--batch", 10)


async def test_a_snapshot_is_a_detached_worktree_removed_afterwards(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """The snapshot holds the revision's files, its .git points into the mirror, and after
    exit neither its files nor the mirror's record of it are left."""
    revision = await _revision(tmp_path, remote)
    await cache.sync(remote)
    where = tmp_path / "snap"
    async with open_snapshot(cache, remote, revision, where) as snapshot:
        assert (where / "pyproject.toml").read_text() == "[project]\nname = 'x'\n"
        assert snapshot.admin.parent == snapshot.mirror / "worktrees"
        assert (await git(where, "rev-parse", "HEAD")).strip() == revision
        (where / "built.txt").write_text("left by a setup\n")
    assert not where.exists()
    listed = await git(cache.mirror_path(remote), "worktree", "list", "--porcelain")
    assert str(where) not in listed


async def test_blobs_are_read_together_whatever_their_bytes(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """Several blobs (one of them binary, with newlines and invalid UTF-8, one named twice)
    in one go, exactly; one over the cap is None; an id that is not a blob is refused."""
    seed = tmp_path / "seed3"
    await git(tmp_path, "clone", "--quiet", remote.url, str(seed))
    binary = b"\x00\xff\nline\r\n\x80" * 100
    (seed / "a.bin").write_bytes(binary)
    (seed / "b.txt").write_text("x" * 50)
    await git(seed, "add", "-A")
    await git(seed, "commit", "--quiet", "-m", "blobs")
    await git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    revision = (await git(seed, "rev-parse", "HEAD")).strip()
    mirror = await cache.sync(remote)
    blobs = await top_level_blobs(cache.git, mirror, revision)
    wanted = [blobs["a.bin"], blobs["b.txt"], blobs["a.bin"]]
    assert await read_blobs(cache.git, mirror, wanted, 10_000) == {
        blobs["a.bin"]: binary,
        blobs["b.txt"]: b"x" * 50,
    }
    assert await read_blobs(cache.git, mirror, wanted, 100) == {
        blobs["a.bin"]: None,
        blobs["b.txt"]: b"x" * 50,
    }
    with pytest.raises(GitError, match="not a blob"):
        await read_blobs(cache.git, mirror, [revision], 100)

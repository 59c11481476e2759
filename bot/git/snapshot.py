"""A revision of a mirror as the environment phase needs it: its top-level files read from git
objects (never from a worktree, where a symlink or a FIFO could stand in for a manifest), and a
throwaway detached worktree of it for the setup to run in."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.mirror import MirrorCache
from bot.git.run import GitRunner, checked_rev
from bot.sandbox.trees import delete_tree

__all__ = ["Snapshot", "open_snapshot", "read_blob", "read_blobs", "top_level_blobs"]

_REGULAR = ("100644", "100755")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


async def top_level_blobs(git: GitRunner, repo: Path, rev: str) -> dict[str, str]:
    """The regular files at the top of `rev`'s tree, name to blob id (symlinks, gitlinks and
    directories are left out)."""
    listed = await git(["ls-tree", "-z", "--full-tree", checked_rev(rev)], cwd=repo)
    blobs: dict[str, str] = {}
    for entry in listed.stdout.split("\0"):
        head, tab, name = entry.partition("\t")
        fields = head.split(" ")
        if tab and len(fields) == 3 and fields[0] in _REGULAR and fields[1] == "blob":
            blobs[name] = fields[2]
    return blobs


async def read_blob(git: GitRunner, repo: Path, blob: str, max_bytes: int) -> bytes | None:
    """The blob's bytes, or None when it is larger than `max_bytes`."""
    return (await read_blobs(git, repo, [blob], max_bytes))[blob]


async def read_blobs(
    git: GitRunner, repo: Path, blobs: list[str], max_bytes: int
) -> dict[str, bytes | None]:
    """Each blob's bytes (None when larger than `max_bytes`), with two git processes in all:
    the sizes first, then the contents of those within the cap, read as bytes and never
    more than their sizes add up to."""
    for blob in blobs:
        if not _SHA.fullmatch(blob):
            raise GitError(f"not a blob id: {blob!r}")
    wanted = list(dict.fromkeys(blobs))
    checked = await git(["cat-file", "--batch-check"], cwd=repo, input="\n".join(wanted) + "\n")
    sizes = {}
    for line in checked.stdout.splitlines():
        sha, kind, size = [*line.split(" "), "", ""][:3]
        if kind != "blob":
            raise GitError(f"not a blob: {sha[:12]}")
        sizes[sha] = int(size)
    found: dict[str, bytes | None] = dict.fromkeys(wanted)
    small = [blob for blob in wanted if sizes[blob] <= max_bytes]
    if small:
        # Each blob comes as "<sha> blob <size>\n<content>\n".
        expected = sum(len(blob) + 32 + sizes[blob] for blob in small)
        request = ("\n".join(small) + "\n").encode()
        data = await git.output(
            ["cat-file", "--batch"], cwd=repo, input=request, max_bytes=expected
        )
        at = 0
        for blob in small:
            start = data.index(b"\n", at) + 1  # after "<sha> blob <size>"
            found[blob] = data[start : start + sizes[blob]]
            at = start + sizes[blob] + 1
    return found


@dataclass(frozen=True)
class Snapshot:
    """A detached worktree of `revision` at `path`: its `.git` file points at `admin`, a
    directory of `mirror` (which holds no token: setup may read it, read-only)."""

    path: Path
    revision: str
    mirror: Path
    admin: Path


@contextlib.asynccontextmanager
async def open_snapshot(
    cache: MirrorCache, remote: Remote, revision: str, path: Path
) -> AsyncIterator[Snapshot]:
    """A throwaway worktree of `revision` (already in the mirror) at `path`; removed on exit,
    files first (a sandbox wrote there: git never looks at them)."""
    path = path.absolute()
    async with cache.locked(remote) as mirror:
        if path.exists():
            await asyncio.to_thread(delete_tree, path)
        await cache.git(["worktree", "prune"], cwd=mirror)
        args = ["worktree", "add", "--quiet", "--detach", str(path), checked_rev(revision)]
        await cache.git(args, cwd=mirror)
    git_file = (path / ".git").read_text()
    admin = Path(git_file.removeprefix("gitdir: ").strip())
    if not git_file.startswith("gitdir: ") or admin.parent != mirror / "worktrees":
        raise GitError(f"{path} is not a worktree of the app's mirror")
    try:
        yield Snapshot(path, revision, mirror, admin)
    finally:
        await asyncio.to_thread(delete_tree, path)
        async with cache.locked(remote) as mirror:
            if mirror.is_dir():
                await cache.git(["worktree", "prune"], cwd=mirror)

"""The I/O side of the commit policy: what a worktree has staged (modes, sizes, link targets)
and the filesystem work of dropping what the policy refuses, never following a symlink.

The rules themselves are pure, in core/commit_policy.py; git/worktree.py puts the steps in order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from bot.core.commit_policy import MAX_TARGET_CHARS, REGULAR, SYMLINK, StagedEntry
from bot.errors import GitError
from bot.git.parse import parse_batch, parse_batch_check, parse_ls_files_stage_z, parse_raw_diff_z
from bot.git.run import GitResult
from bot.sandbox.trees import remove_below

__all__ = ["GitCall", "chunks", "remove_entries", "staged_entries"]

_ARGS_PER_CALL = 200  # paths per git command line, far below ARG_MAX


class GitCall(Protocol):
    async def __call__(
        self, *args: str, check: bool = ..., input: str | None = ...
    ) -> GitResult: ...


async def staged_entries(git: GitCall) -> tuple[list[StagedEntry], dict[str, str]]:
    """Every change staged against HEAD, and every symlink of the index → its target.

    Plumbing only (`diff-index`, `ls-files`, `cat-file`): no porcelain config such as
    `diff.ignoreSubmodules` can hide a gitlink, and nothing enters a nested repository.
    """
    raw = await git(
        "diff-index", "--cached", "--raw", "-z", "--no-renames", "--ignore-submodules=none", "HEAD"
    )
    changes = parse_raw_diff_z(raw.stdout)
    index = parse_ls_files_stage_z((await git("ls-files", "-s", "-z")).stdout)
    link_shas = {sha for mode, sha, _ in index if mode == SYMLINK}
    blob_shas = {c.new_sha for c in changes if c.new_mode in (*REGULAR, SYMLINK)}
    sizes = await _object_sizes(git, link_shas | blob_shas)
    # A link's target is a path: a huge "link" blob is not read (its entry is refused).
    readable = sorted(sha for sha in link_shas if sizes.get(sha, 0) <= MAX_TARGET_CHARS)
    targets = await _blobs(git, readable)
    symlinks = {path: targets[sha] for mode, sha, path in index if sha in targets}
    entries = [
        StagedEntry(
            path=change.path,
            old_mode=change.old_mode,
            new_mode=change.new_mode,
            size=sizes.get(change.new_sha, 0),
            target=targets.get(change.new_sha) if change.new_mode == SYMLINK else None,
        )
        for change in changes
    ]
    return entries, symlinks


async def _object_sizes(git: GitCall, shas: set[str]) -> dict[str, int]:
    if not shas:
        return {}
    out = await git("cat-file", "--batch-check", input="".join(f"{s}\n" for s in sorted(shas)))
    return {sha: size for sha, (_, size) in parse_batch_check(out.stdout).items()}


async def _blobs(git: GitCall, shas: Sequence[str]) -> dict[str, str]:
    if not shas:
        return {}
    out = await git("cat-file", "--batch", input="".join(f"{sha}\n" for sha in shas))
    data = out.stdout.encode("utf-8", "surrogateescape")  # back to the exact bytes
    return {sha: blob.decode("utf-8", "surrogateescape") for sha, blob in parse_batch(data).items()}


def remove_entries(root: Path, paths: Sequence[str]) -> None:
    """Remove what stands at each worktree-relative path: a file or a symlink itself, or a
    directory with its contents (any depth). Nothing is touched below a parent that is a
    symlink or not a directory, so a refused path can never reach outside the worktree."""
    for path in paths:
        parts = path.split("/")
        if any(part in ("", ".", "..") for part in parts):
            continue
        try:
            remove_below(root, path)
        except OSError as exc:
            raise GitError(f"cannot remove a refused entry: {exc.strerror}") from exc


def chunks(items: Sequence[str], size: int = _ARGS_PER_CALL) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

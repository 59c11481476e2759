"""Confining an agent's paths to its worktree.

Relative paths are taken from the worktree root. An absolute path is accepted only when it lies
inside the worktree: under its host path, or under /workspace, where every sandboxed command
sees it (so paths printed by a `run` command can be used as they are); every other absolute
path is refused. So are `..`
components, anything that resolves (following symlinks) outside the worktree, and `.git`
anywhere (a worktree's `.git` file, its gitdir, a nested repository's hooks).

Writes must also pass the write policy of core/commit_policy.py (the same rules the app applies
to what is staged before it commits), both for the path as named and as resolved, so that a
symlinked parent cannot launder a denied path: `allowed_write_globs` (None: anywhere) apply to
the path or a parent, `denied_globs` (deny wins) to the path, every parent and the directory a
glob protects, case-insensitively; `.gitmodules` is refused unless submodules are allowed, and
so are names with control characters. By default `.github/workflows/**` is denied: the app may
not push workflow changes unless the repository config allows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bot.core.commit_policy import DEFAULT_DENIED_WRITE_GLOBS, WritePolicy, path_refusal
from bot.core.globs import fold_name
from bot.errors import PathRefused
from bot.sandbox.mounts import WORKSPACE

__all__ = ["resolve_in_worktree"]


def resolve_in_worktree(
    worktree: Path,
    path: str,
    *,
    for_write: bool = False,
    allowed_write_globs: Sequence[str] | None = None,
    denied_globs: Sequence[str] = DEFAULT_DENIED_WRITE_GLOBS,
    allow_submodules: bool = False,
) -> Path:
    """The real path `path` names inside `worktree`, or PathRefused saying why not."""
    root = worktree.resolve()
    if not path or "\0" in path:
        raise PathRefused("empty or invalid path")
    named = PurePosixPath(path)
    if named.is_absolute():
        bases = (PurePosixPath(worktree.absolute()), PurePosixPath(root), PurePosixPath(WORKSPACE))
        relative = _inside(named, bases)
        if relative is None:
            raise PathRefused(f"{path}: absolute paths outside the repository are refused")
        named = relative
    if ".." in named.parts:
        raise PathRefused(f"{path}: `..` is not allowed in paths")
    _refuse_git(path, named)
    try:
        real = (root / named).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise PathRefused(f"{path}: cannot be resolved ({exc.__class__.__name__})") from exc
    if not real.is_relative_to(root):
        raise PathRefused(f"{path}: resolves outside the repository")
    real_relative = PurePosixPath(real.relative_to(root))
    _refuse_git(path, real_relative)
    if for_write:
        policy = WritePolicy(
            allowed_globs=None if allowed_write_globs is None else tuple(allowed_write_globs),
            denied_globs=tuple(denied_globs),
            allow_submodules=allow_submodules,
        )
        for candidate in (named.as_posix(), real_relative.as_posix()):
            reason = path_refusal(candidate, policy)
            if reason is not None:
                raise PathRefused(f"{path}: {reason}")
    return real


def _inside(path: PurePosixPath, bases: Sequence[PurePosixPath]) -> PurePosixPath | None:
    for base in bases:
        if path.is_relative_to(base):
            return path.relative_to(base)
    return None


def _refuse_git(path: str, relative: PurePosixPath) -> None:
    if any(fold_name(part) in (".git", "git~1") for part in relative.parts):
        raise PathRefused(f"{path}: .git is off limits")

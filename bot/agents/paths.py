"""Confining an agent's paths to its worktree.

Relative paths are taken from the worktree root. An absolute path is accepted only when it lies
inside the worktree (the sandbox shows the worktree at its own path, so paths printed by a
sandboxed command can be used as they are); every other absolute path is refused. So are `..`
components, anything that resolves (following symlinks) outside the worktree, and `.git`
anywhere (a worktree's `.git` file, its gitdir, a nested repository's hooks).

Writes must also pass two glob lists matched against the whole relative path, both as named and
as resolved (a symlink cannot launder a denied path): `allowed_write_globs` (None: anywhere) and
`denied_globs` (deny wins). `*` stays within one directory, `**` crosses directories. By default
`.github/workflows/**` is denied: the app may not push workflow changes unless the repository
config allows them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bot.errors import PathRefused

__all__ = ["DEFAULT_DENIED_WRITE_GLOBS", "glob_matches", "resolve_in_worktree"]

DEFAULT_DENIED_WRITE_GLOBS: tuple[str, ...] = (".github/workflows/**",)


def resolve_in_worktree(
    worktree: Path,
    path: str,
    *,
    for_write: bool = False,
    allowed_write_globs: Sequence[str] | None = None,
    denied_globs: Sequence[str] = DEFAULT_DENIED_WRITE_GLOBS,
) -> Path:
    """The real path `path` names inside `worktree`, or PathRefused saying why not."""
    root = worktree.resolve()
    if not path or "\0" in path:
        raise PathRefused("empty or invalid path")
    named = PurePosixPath(path)
    if named.is_absolute():
        relative = _inside(named, (PurePosixPath(worktree.absolute()), PurePosixPath(root)))
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
        for candidate in {named.as_posix(), real_relative.as_posix()}:
            if allowed_write_globs is not None and not any(
                glob_matches(g, candidate) for g in allowed_write_globs
            ):
                raise PathRefused(f"{path}: writing here is not allowed for this agent")
            if any(glob_matches(g, candidate) for g in denied_globs):
                raise PathRefused(f"{path}: writing here is not allowed")
    return real


def glob_matches(pattern: str, relative_path: str) -> bool:
    """Whether a slash-separated relative path matches the glob as a whole."""
    return _glob_regex(pattern).fullmatch(relative_path) is not None


def _inside(path: PurePosixPath, bases: Sequence[PurePosixPath]) -> PurePosixPath | None:
    for base in bases:
        if path.is_relative_to(base):
            return path.relative_to(base)
    return None


def _refuse_git(path: str, relative: PurePosixPath) -> None:
    if any(part.lower() == ".git" for part in relative.parts):
        raise PathRefused(f"{path}: .git is off limits")


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))

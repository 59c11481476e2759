"""Remove the nested repositories a sandboxed command may have written into a worktree.

A `.git` file or directory below the worktree's root makes git treat that directory as a
repository (a populated submodule, or an untracked nested repository): host-side `git status`,
`add` and `commit` then run git inside it, with its config (fsmonitor, filter drivers, hooks).
Config pinned on the command line does not cover all of that (a filter driver has any name),
so no such entry may exist when host git runs: this removes each one, at any depth, matched
case-insensitively, without following symbolic links.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from bot.core.globs import fold_name
from bot.errors import GitError


def is_dot_git(name: str) -> bool:
    """`.git` as any client may resolve it: any letter case, and the spellings NTFS and HFS+
    treat as `.git` (`.git.`, `git~1`, ignorable characters; see commit_policy.fold_name). A
    `.git` that git itself refuses (`.GIT`) would also make `git add -A` fail."""
    return fold_name(name) in (".git", "git~1")


def remove_nested_repos(root: Path) -> list[str]:
    """Delete every `.git` entry below `root` (not `root/.git` itself); return their paths,
    relative and sorted. Fails closed: an entry it cannot list or delete raises GitError."""
    removed: list[str] = []
    pending = [Path(root)]
    while pending:
        directory = pending.pop()
        for entry in _entries(directory):
            path = Path(entry.path)
            if is_dot_git(entry.name) and not (directory == root and entry.name == ".git"):
                _delete(path)
                removed.append(path.relative_to(root).as_posix())
            elif entry.is_dir(follow_symlinks=False):
                pending.append(path)
    return sorted(removed)


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as listing:
            return list(listing)
    except PermissionError:
        # A sandboxed command may have made a directory unreadable to hide what is inside;
        # it runs as our user, so we may take the permission back.
        try:
            os.chmod(directory, stat.S_IRWXU)
            with os.scandir(directory) as listing:
                return list(listing)
        except OSError as exc:
            raise GitError(f"cannot inspect {directory} for nested repositories: {exc}") from exc
    except OSError as exc:
        raise GitError(f"cannot inspect {directory} for nested repositories: {exc}") from exc


def delete_tree(path: Path) -> None:
    """Delete a directory tree a sandbox wrote (it may hold unwritable directories); a missing
    path is fine. Symbolic links are deleted, never followed."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    try:
        shutil.rmtree(path)
    except OSError:
        _make_writable(path)
        shutil.rmtree(path)


def _delete(path: Path) -> None:
    try:
        delete_tree(path)
    except OSError as exc:
        raise GitError(f"cannot remove the nested repository entry {path}: {exc}") from exc


def _make_writable(top: Path) -> None:
    os.chmod(top, stat.S_IRWXU)
    for directory, subdirs, _files in os.walk(top):  # does not follow symbolic links
        for name in subdirs:
            sub = os.path.join(directory, name)
            if not os.path.islink(sub):
                os.chmod(sub, stat.S_IRWXU)

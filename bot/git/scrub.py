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
from pathlib import Path

from bot.core.globs import fold_name
from bot.errors import GitError
from bot.sandbox.trees import Cursor, delete_at, walk_tree


def is_dot_git(name: str) -> bool:
    """`.git` as any client may resolve it: any letter case, and the spellings NTFS and HFS+
    treat as `.git` (`.git.`, `git~1`, ignorable characters; see commit_policy.fold_name). A
    `.git` that git itself refuses (`.GIT`) would also make `git add -A` fail."""
    return fold_name(name) in (".git", "git~1")


def remove_nested_repos(root: Path) -> list[str]:
    """Delete every `.git` entry below `root` (not `root/.git` itself); return their paths,
    relative and sorted. Any depth, one directory descriptor at a time (sandbox/trees.py).
    Fails closed: an entry it cannot list or delete raises GitError."""
    removed: list[str] = []

    def visit(cursor: Cursor, entries: list[os.DirEntry[str]]) -> list[str]:
        subdirs = []
        for entry in entries:
            if is_dot_git(entry.name) and (cursor.trail or entry.name != ".git"):
                delete_at(cursor.fd, entry.name)
                removed.append(cursor.relative(entry.name))
            elif entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
        return subdirs

    try:
        walk_tree(root, visit)
    except OSError as exc:
        raise GitError(f"cannot clear {root} of nested repositories: {exc}") from exc
    return sorted(removed)

"""Synchronous helpers over bare repositories (the hub's storage), using the `git` CLI.

REST handlers call these through `asyncio.to_thread` so the event loop never blocks.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40

# Never read the host's git configuration: the hub must behave the same on every machine.
GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LANG": "C",
}

# GitHub refuses workflow edits from an app without the `workflows` permission.
PRE_RECEIVE_HOOK = """#!/bin/sh
[ "$FAKEHUB_ALLOW_WORKFLOWS" = 1 ] && exit 0
zero=0000000000000000000000000000000000000000
status=0
while read old new ref; do
  [ "$new" = "$zero" ] && continue
  for f in $(git log --format= --name-only "$new" --not --all | grep '^\\.github/workflows/'); do
    echo "refusing to allow a GitHub App to create or update workflow \\`$f\\`" \\
         "without \\`workflows\\` permission" >&2
    status=1
  done
done
exit $status
"""


class GitFailure(RuntimeError):
    pass


def git(bare: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] = {}) -> str:
    proc = subprocess.run(
        ["git", f"--git-dir={bare}", *args],
        input=input,
        capture_output=True,
        env={**GIT_ENV, **env},
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise GitFailure(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode()


def git_ok(bare: Path, *args: str) -> bool:
    try:
        git(bare, *args)
    except GitFailure:
        return False
    return True


def init_bare(bare: Path, default_branch: str) -> None:
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(bare)],
        env=GIT_ENV,
        check=True,
        capture_output=True,
    )
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(PRE_RECEIVE_HOOK)
    hook.chmod(0o755)


def commit_files(
    bare: Path,
    branch: str,
    files: Mapping[str, str | bytes | None],
    message: str,
    author: tuple[str, str] = ("Octo Cat", "octocat@users.noreply.github.com"),
    start: str | None = None,
) -> str:
    """Commit `files` (None deletes) on top of `branch` without a worktree; a missing branch
    starts at `start` (a root commit when None)."""
    ident = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
    }
    old = resolve(bare, f"refs/heads/{branch}")
    parent = old or (resolve(bare, start) if start else None)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**ident, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(bare, "read-tree", *([parent] if parent else ["--empty"]), env=env)
        for path, content in files.items():
            if content is None:
                git(bare, "update-index", "--force-remove", path, env=env)
                continue
            data = content.encode() if isinstance(content, str) else content
            blob = git(bare, "hash-object", "-w", "--stdin", input=data).strip()
            git(bare, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(bare, "write-tree", env=env).strip()
        parents = ["-p", parent] if parent else []
        sha = git(bare, "commit-tree", tree, *parents, "-m", message, env=env).strip()
    git(bare, "update-ref", f"refs/heads/{branch}", sha, old or ZERO_SHA)
    return sha


def resolve(bare: Path, rev: str) -> str | None:
    """The commit `rev` names, or None."""
    try:
        return git(bare, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except GitFailure:
        return None


def object_type(bare: Path, rev: str) -> str | None:
    try:
        return git(bare, "cat-file", "-t", rev).strip()
    except GitFailure:
        return None


def list_refs(bare: Path) -> dict[str, str]:
    out = git(bare, "for-each-ref", "--format=%(refname) %(objectname)")
    pairs = (line.split(" ", 1) for line in out.splitlines() if line)
    return {ref: sha for ref, sha in pairs}


def is_ancestor(bare: Path, old: str, new: str) -> bool:
    return git_ok(bare, "merge-base", "--is-ancestor", old, new)


def update_ref(bare: Path, ref: str, new: str, old: str) -> None:
    """Move `ref` from `old` to `new` atomically (ZERO_SHA old: must not exist)."""
    git(bare, "update-ref", ref, new, old)


def delete_ref(bare: Path, ref: str, old: str) -> None:
    git(bare, "update-ref", "-d", ref, old)


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str  # "blob" | "tree" | "commit"
    sha: str
    size: int
    path: str


def tree_entries(bare: Path, commit: str, path: str) -> list[TreeEntry]:
    """Entries of directory `path` ("" is the root) at `commit`."""
    spec = f"{commit}:{path}" if path else commit
    out = git(bare, "ls-tree", "-l", "-z", spec)
    entries = []
    for item in out.split("\0"):
        if not item:
            continue
        meta, name = item.split("\t", 1)
        mode, typ, sha, size = meta.split()
        full = f"{path}/{name}" if path else name
        entries.append(TreeEntry(mode, typ, sha, int(size) if size != "-" else 0, full))
    return entries


def read_blob(bare: Path, sha: str) -> bytes:
    proc = subprocess.run(
        ["git", f"--git-dir={bare}", "cat-file", "blob", sha],
        capture_output=True,
        env=GIT_ENV,
        check=True,
    )
    return proc.stdout


@dataclass(frozen=True)
class DiffStats:
    commits: int
    additions: int
    deletions: int
    changed_files: int


def diff_stats(bare: Path, base: str, head: str) -> DiffStats:
    merge_base = git(bare, "merge-base", base, head).strip()
    commits = int(git(bare, "rev-list", "--count", f"{merge_base}..{head}").strip())
    adds = dels = files = 0
    for line in git(bare, "diff", "--numstat", merge_base, head).splitlines():
        a, d, _ = line.split("\t", 2)
        files += 1
        adds += int(a) if a != "-" else 0
        dels += int(d) if d != "-" else 0
    return DiffStats(commits, adds, dels, files)


HUNK_RE = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def diff_hunk(bare: Path, base: str, head: str, path: str, line: int) -> str:
    """The diff hunk of `path` up to new-side `line`, as GitHub puts in a review comment."""
    out = git(bare, "diff", f"{base}...{head}", "--", path)
    hunk: list[str] = []
    new_line = 0
    for text in out.splitlines():
        if m := HUNK_RE.match(text):
            hunk, new_line = [text], int(m.group(1)) - 1
            continue
        if not hunk:
            continue
        hunk.append(text)
        if not text.startswith("-"):
            new_line += 1
        if new_line == line and not text.startswith("-"):
            return "\n".join(hunk)
    return f"@@ -{line},1 +{line},1 @@"

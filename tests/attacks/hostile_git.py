"""What a compromised agent plants for the host's git, and an attacker's HTTP listener.

Everything here runs git WITHOUT the app's runner (a plain environment), as the sandbox or
another party would: it builds the hostile state the app's own git must never act on.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

# Every hook git knows (githooks(5)): each one, if ever run, writes the marker.
HOOKS = (
    "applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit",
    "prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout",
    "post-merge", "pre-push", "pre-receive", "update", "proc-receive", "post-receive",
    "post-update", "reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite",
    "sendemail-validate", "fsmonitor-watchman", "p4-changelist", "p4-prepare-changelist",
    "p4-post-changelist", "p4-pre-submit", "post-index-change",
)  # fmt: skip


def plain_git(
    cwd: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> str:
    """git as someone other than the app runs it: no pinned config, no hardening."""
    base = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "someone",
        "GIT_AUTHOR_EMAIL": "someone@example.com",
        "GIT_COMMITTER_NAME": "someone",
        "GIT_COMMITTER_EMAIL": "someone@example.com",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.file.allow",
        "GIT_CONFIG_VALUE_0": "always",
    }
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        input=input,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@dataclass
class Payload:
    """A script that records each run in `marker`: it must never run."""

    script: Path
    marker: Path

    @classmethod
    def create(cls, where: Path) -> Payload:
        where.mkdir(parents=True, exist_ok=True)
        marker, script = where / "PWNED", where / "payload.sh"
        script.write_text(f'#!/bin/sh\necho "$0 $*" >> "{marker}"\nexit 0\n')
        script.chmod(0o755)
        return cls(script, marker)

    def ran(self) -> str:
        return self.marker.read_text() if self.marker.exists() else ""


def hostile_config(payload: Path, git_dir: Path, attacker_url: str) -> str:
    """A repository config in which every setting that can run a command or reach a host does."""
    (git_dir / "extra.config").write_text(f"[core]\n\tfsmonitor = {payload}\n")
    return f"""[core]
	repositoryformatversion = 0
	filemode = true
	bare = false
	fsmonitor = {payload}
	hooksPath = {git_dir}/evil-hooks
	pager = {payload}
	sshCommand = {payload}
	askPass = {payload}
	editor = {payload}
	gitProxy = {payload}
	alternateRefsCommand = {payload}
[include]
	path = {git_dir}/extra.config
[includeIf "gitdir:/"]
	path = {git_dir}/extra.config
[filter "evil"]
	clean = {payload}
	smudge = {payload}
	process = {payload}
[diff "evil"]
	textconv = {payload}
	command = {payload}
[diff]
	external = {payload}
[merge "evil"]
	driver = {payload}
[alias]
	st = !{payload}
[pager]
	status = {payload}
	diff = {payload}
[credential]
	helper = !{payload}
[uploadpack]
	packObjectsHook = {payload}
[remote "origin"]
	url = {attacker_url}
	uploadpack = {payload}
	receivepack = {payload}
	fetch = +refs/heads/*:refs/remotes/origin/*
[submodule]
	recurse = true
[fetch]
	recurseSubmodules = true
"""


def plant_repo(where: Path, payload: Path, attacker_url: str, *, git_file: bool = False) -> None:
    """Make `where` a populated repository whose git dir runs `payload` from every hook and
    every config setting that can. With `git_file`, `where/.git` is a gitfile pointing at a git
    dir elsewhere in the same worktree (a sandbox can write only there)."""
    where.mkdir(parents=True, exist_ok=True)
    plain_git(where, "init", "--quiet")
    (where / "tracked.txt").write_text("needle inside the planted repository\n")
    (where / ".gitattributes").write_text("* filter=evil diff=evil merge=evil\n")
    plain_git(where, "add", "-A")
    plain_git(where, "commit", "--quiet", "-m", "planted")
    git_dir = where / ".git"
    if git_file:
        hidden = where.parent / f".{where.name}-gitdir"
        git_dir.rename(hidden)
        (where / ".git").write_text(f"gitdir: {hidden}\n")
        git_dir = hidden
    hooks = git_dir / "evil-hooks"
    for directory in (hooks, git_dir / "hooks"):
        directory.mkdir(exist_ok=True)
        for name in HOOKS:
            (directory / name).symlink_to(payload)
    (git_dir / "config").write_text(hostile_config(payload, git_dir, attacker_url))
    # A changed stat makes git re-read (and so re-filter) the tracked file.
    os.utime(where / "tracked.txt", (1, 1))


def commit_gitlink(bare: Path, branch: str, path: str, sha: str, gitmodules: str) -> str:
    """Someone else's commit on `branch` of `bare`: a gitlink at `path` and `.gitmodules`."""
    index = bare / f"tmp-index-{os.getpid()}"
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        plain_git(bare, "read-tree", f"refs/heads/{branch}", env=env)
        blob = plain_git(bare, "hash-object", "-w", "--stdin", input=gitmodules).strip()
        plain_git(
            bare, "update-index", "--add", "--cacheinfo", f"100644,{blob},.gitmodules", env=env
        )
        plain_git(bare, "update-index", "--add", "--cacheinfo", f"160000,{sha},{path}", env=env)
        tree = plain_git(bare, "write-tree", env=env).strip()
        parent = plain_git(bare, "rev-parse", f"refs/heads/{branch}").strip()
        commit = plain_git(bare, "commit-tree", tree, "-p", parent, "-m", "add a submodule").strip()
        plain_git(bare, "update-ref", f"refs/heads/{branch}", commit)
        return commit
    finally:
        index.unlink(missing_ok=True)


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None


@dataclass
class Listener:
    """An attacker's HTTP server on loopback: records every request, answers 401."""

    requests: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def authorizations(self) -> list[str]:
        return [seen.authorization for seen in self.requests if seen.authorization]

    def __enter__(self) -> Listener:
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                seen.append(Seen(self.command, self.path, self.headers.get("Authorization")))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="attacker"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_CONNECT = _record

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

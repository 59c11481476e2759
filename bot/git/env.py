"""The environment and command line of every host git command (pure: tests inspect both): a
clean environment with fixed config (no hooks, fsmonitor, pager, helpers or submodule recursion,
whatever a repository says), and a token that reaches only its own remote URL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.remote import Credential

# Host variables git may legitimately need (proxies, CA bundles); nothing else is inherited.
_INHERITED = (
    "PATH",
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
)

# Settings every command gets, whatever the host or repository configuration says. Repository
# content and anything a sandboxed command wrote are untrusted: no hook, fsmonitor, pager,
# credential helper, askpass or ssh command from any config may run, no submodule is entered or
# fetched, and only the transports the app itself uses are allowed, for the commands it runs.
FIXED_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", os.devnull),
    ("core.fsmonitor", "false"),
    ("core.untrackedCache", "false"),
    ("core.splitIndex", "false"),
    ("core.pager", "cat"),
    ("core.askPass", ""),
    ("core.sshCommand", "false"),
    ("core.attributesFile", os.devnull),  # no per-user attributes from HOME
    ("core.excludesFile", os.devnull),
    ("credential.helper", ""),  # an empty value resets the list of helpers
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("push.recurseSubmodules", "no"),
    # "dirty", not "all": never look inside a submodule's files, but keep gitlinks visible in
    # every diff (the write policy and attribution must see them). Neither value is a wall: a
    # `.gitmodules` `ignore =` outranks it, hence the removal of nested repositories.
    ("diff.ignoreSubmodules", "dirty"),
    ("status.submoduleSummary", "false"),
    ("protocol.allow", "never"),
    # "user": only for the commands the app runs, never for what git runs on a repository's
    # behalf (submodules); `file` is for `bot run`, plain http for loopback servers.
    ("protocol.https.allow", "user"),
    ("protocol.http.allow", "user"),
    ("protocol.file.allow", "user"),
    ("http.followRedirects", "false"),
    ("http.sslVerify", "true"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("push.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("rebase.autoStash", "false"),
    ("rebase.autoSquash", "false"),
    ("rebase.updateRefs", "false"),
    ("gc.auto", "0"),  # no background gc racing the other worktrees of a shared mirror
    ("maintenance.auto", "false"),
    ("core.quotePath", "false"),  # UTF-8 paths verbatim; only control characters are quoted
    ("init.defaultBranch", "main"),
    ("init.templateDir", ""),  # new repositories get no sample hooks or other template files
    ("advice.detachedHead", "false"),
)


@dataclass(frozen=True)
class GitIdentity:
    """Author and committer of every commit the app makes."""

    name: str = "orchestrate[bot]"
    email: str = "orchestrate[bot]@users.noreply.github.com"


BOT_IDENTITY = GitIdentity()


def git_env(
    *,
    home: Path | None,
    credential: Credential | None = None,
    identity: GitIdentity = BOT_IDENTITY,
) -> dict[str, str]:
    """The whole environment of a git process (nothing else from ours leaks in).

    Config given through GIT_CONFIG_COUNT outranks every config file, and git hands it on to the
    processes it starts (remote helpers; in git 2.39 also submodule commands, which is why the
    app also removes nested repositories rather than relying on this alone).
    """
    env = {key: value for key in _INHERITED if (value := os.environ.get(key)) is not None}
    env.setdefault("PATH", os.defpath)
    env.update(
        # A missing HOME directory is fine: global config is off and git ignores absent files.
        HOME=str(home) if home is not None else "/nonexistent",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",  # set but empty: no askpass program at all (core.askPass is pinned too)
        GIT_PAGER="cat",
        GIT_EDITOR="true",
        GIT_SEQUENCE_EDITOR="true",
        GIT_MERGE_AUTOEDIT="no",
        LC_ALL="C",
        LANGUAGE="C",
        GIT_AUTHOR_NAME=identity.name,
        GIT_AUTHOR_EMAIL=identity.email,
        GIT_COMMITTER_NAME=identity.name,
        GIT_COMMITTER_EMAIL=identity.email,
    )
    config = list(FIXED_CONFIG)
    if credential is not None:
        # In the environment, not in argv or a URL: invisible to `ps`, never written to a
        # config file, never echoed by git; and scoped to the one URL it belongs to.
        config.append(credential.config)
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def git_command(
    args: Sequence[str],
    *,
    cwd: Path,
    home: Path | None = None,
    credential: Credential | None = None,
    identity: GitIdentity = BOT_IDENTITY,
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of one host git command (pure: tests inspect both)."""
    env = git_env(home=home, credential=credential, identity=identity)
    # git must not wander up from cwd into an enclosing repository.
    env["GIT_CEILING_DIRECTORIES"] = str(Path(cwd).absolute().parent)
    return ["git", "--no-pager", *args], env

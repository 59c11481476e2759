"""The mirror's own files are the app's: their config is exactly what the app wrote, and nothing
that redirects git elsewhere (alternates, a common dir, per-worktree config) exists.

A mirror whose files differ may have been changed by something that escaped a sandbox; it may
redirect a push (`pushurl`, `insteadOf`), proxy it, or run a command (fsmonitor, an alias
target, an include). The cache checks before every command that carries a token and rebuilds
such a mirror from scratch rather than trusting any of it.
"""

from __future__ import annotations

from pathlib import Path

# The whole config of a mirror. Remotes are not configured at all: fetch and push name the URL
# and refspecs on the command line, so no remote.* setting could redirect them.
MIRROR_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
MIRROR_CONFIG_LIST = ("core.repositoryformatversion=0", "core.filemode=true", "core.bare=true")

# Files git reads from a repository that would make it use another repository's objects or
# config, or apply attributes to every worktree.
_FORBIDDEN = (
    "config.worktree",
    "commondir",
    "gitdir",
    "info/attributes",
    "objects/info/alternates",
    "objects/info/http-alternates",
)
_FORBIDDEN_PER_WORKTREE = ("config", "config.worktree")


def write_pristine_config(mirror: Path) -> None:
    """Replace what `git init` wrote by the app's own, exact config."""
    (mirror / "config").write_text(MIRROR_CONFIG)


def tampering(mirror: Path, config_list: str) -> list[str]:
    """Why the mirror cannot be trusted (empty when it can). `config_list` is the output of
    `git config --file <mirror>/config --list`, which does not follow includes."""
    reasons = []
    config = mirror / "config"
    if config.is_symlink() or not config.is_file():
        reasons.append("config is not a regular file")
    elif tuple(config_list.splitlines()) != MIRROR_CONFIG_LIST:
        reasons.append("config differs from what the app wrote")
    reasons += [f"{name} exists" for name in _FORBIDDEN if _lexists(mirror / name)]
    worktrees = mirror / "worktrees"
    if worktrees.is_symlink():
        reasons.append("worktrees is a symbolic link")
    elif worktrees.is_dir():
        for admin in sorted(worktrees.iterdir()):
            reasons += _worktree_tampering(admin)
    return reasons


def _worktree_tampering(admin: Path) -> list[str]:
    where = f"worktrees/{admin.name}"
    if admin.is_symlink() or not admin.is_dir():
        return [f"{where} is not a directory"]
    reasons = [
        f"{where}/{name} exists" for name in _FORBIDDEN_PER_WORKTREE if _lexists(admin / name)
    ]
    commondir = admin / "commondir"
    try:
        points_home = not commondir.is_symlink() and commondir.read_text().strip() == "../.."
    except OSError:
        points_home = False
    if not points_home:
        reasons.append(f"{where}/commondir does not point at the mirror")
    return reasons


def _lexists(path: Path) -> bool:
    return path.is_symlink() or path.exists()

"""What a sandbox shows besides the system and the worktree: typed extra mounts, and the
repository's environment as a sandboxed command sees it (mounts, variables, PATH entries).

Every sandboxed command sees its worktree at `WORKSPACE`, whatever the worktree's host path:
an editable install records the project's path in the environment, and a cached environment
is used by many worktrees, so the path inside must always be the same.
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import SandboxError

__all__ = ["NO_ENVIRONMENT", "WORKSPACE", "Mount", "SandboxEnvironment", "base_python"]

WORKSPACE = "/workspace"
_RESERVED = ("/proc", "/dev")


@dataclass(frozen=True)
class Mount:
    """A host path shown inside at `target`: read-only unless `writable`. The app chooses
    both ends, never the repository."""

    source: Path
    target: str
    writable: bool = False

    def __post_init__(self) -> None:
        target = self.target
        if not target.startswith("/") or posixpath.normpath(target) != target or target == "/":
            raise SandboxError(f"a mount target must be a plain absolute path: {target!r}")
        if any(target == top or target.startswith(top + "/") for top in _RESERVED):
            raise SandboxError(f"a mount target may not be under {target.split('/')[1]}")

    @classmethod
    def at_own_path(cls, source: Path, *, writable: bool = False) -> Mount:
        return cls(source, str(source), writable)

    def args(self) -> list[str]:
        return ["--bind" if self.writable else "--ro-bind", str(self.source), self.target]


@dataclass(frozen=True)
class SandboxEnvironment:
    """The repository's environment for one sandboxed command: `mounts` after the worktree,
    `env` added to the command's variables, `path` put first on PATH."""

    mounts: tuple[Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    path: tuple[str, ...] = ()

    def plus(self, other: SandboxEnvironment) -> SandboxEnvironment:
        """This environment with `other`'s mounts, variables and PATH entries after its own."""
        return SandboxEnvironment(
            (*self.mounts, *other.mounts), {**self.env, **other.env}, (*self.path, *other.path)
        )


NO_ENVIRONMENT = SandboxEnvironment()


def base_python() -> str:
    """The worker's base interpreter (never the app's virtualenv): it makes repository
    virtualenvs and runs the egress bridge, with its standard library only."""
    executable = getattr(sys, "_base_executable", "") or sys.executable
    return str(Path(executable))

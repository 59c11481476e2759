"""How a sandbox is built: its limits, the environments inside it and of its launcher, and the
prlimit + bwrap command line (no process is started here).

The worktree is shown at /workspace (bot/sandbox/mounts.py). Python: the worker's BASE
installation is visible (its interpreter and standard library: repository virtualenvs are made
from it), never the app's own virtualenv, and the base installation's site-packages are hidden
under empty read-only mounts, so no package of the worker's is importable by repository code.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.mounts import WORKSPACE, Mount

__all__ = ["LAUNCHER_ENV", "SandboxLimits", "build_argv", "probe_argv", "sandbox_env"]

# The whole environment prlimit and bwrap are started with. bwrap's pid 1 inside the sandbox
# keeps the environment it was started with (`--clearenv` clears only the command's), and any
# sandboxed process can read it from /proc/1/environ: nothing of the worker's may be in it.
# Both programs are run by absolute path; PATH is there only for tools that expect one.
LAUNCHER_ENV: Mapping[str, str] = {"PATH": "/usr/bin:/bin"}

_MIB = 1024 * 1024
_DENIED_NAME_PARTS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",  # Debian's /usr/bin/awk and friends point here
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",  # "localhost" must resolve for tests that serve on loopback
    "/etc/localtime",
)
_TOP_LEVEL_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandboxed command may use.

    `file_size_mb` is RLIMIT_FSIZE: a write that would grow any file (worktree, /tmp) past it
    fails; the writer gets SIGXFSZ, which kills it (exit status 153 from a shell), or EFBIG
    ("File too large") if it ignores that signal. `tmpfs_mb` is the size of each of the private
    /tmp and /dev/shm (RAM that RLIMIT_AS does not count); a full one answers ENOSPC.
    `min_free_disk_mb`: many files under the size limit can still fill the worker's disk, so
    the command is killed when the file system of its worktree has less than this left.
    `disk_budget_mb` (0: none): the command is killed once the bytes under its worktree and
    writable mounts grew by more than this (bot/sandbox/disk_guard.py).
    """

    timeout_s: float = 600
    memory_mb: int = 2048
    cpu_s: int = 900
    output_bytes: int = 65536
    nproc: int = 256
    file_size_mb: int = 64
    tmpfs_mb: int = 512
    min_free_disk_mb: int = 1024
    disk_budget_mb: int = 0


def sandbox_env(extra: Mapping[str, str] | None, path_first: Sequence[str] = ()) -> dict[str, str]:
    """The command's whole environment: an allow-list plus the caller's non-secret variables;
    `path_first` (the repository environment's bin directories) leads PATH."""
    path = [*path_first, str(Path(sys.base_prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
    values = {
        "PATH": ":".join(path),
        "HOME": "/tmp",  # private tmpfs: tool caches never land in the worktree's diff
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TERM": "dumb",
    }
    for name, value in (extra or {}).items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise SandboxError(f"invalid environment variable name or value: {name!r}")
        if any(part in name.upper() for part in _DENIED_NAME_PARTS):
            raise SandboxError(f"environment variable refused (looks like a secret): {name}")
        values[name] = value
    return values


def probe_argv() -> list[str] | None:
    """A bwrap call that builds a small sandbox with the mount options `build_argv` relies on
    (sized tmpfs needs bwrap 0.8) and runs `true`; None without bwrap or prlimit."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if bwrap is None or prlimit is None:
        return None
    args = [bwrap, "--unshare-all", "--cap-drop", "ALL", *_system_binds(), "--dev", "/dev"]
    args += [*_private_tmpfs("/tmp", SandboxLimits(tmpfs_mb=1)), "--remount-ro", "/dev"]
    return [*args, "--", "/bin/true"]


def build_argv(
    command: str,
    worktree: Path,
    limits: SandboxLimits,
    env: Mapping[str, str],
    ro_binds: Sequence[Path],
    status_fd: int,
    mounts: Sequence[Mount] = (),
) -> list[str]:
    """prlimit (which sets the rlimits and execs bwrap) + bwrap + `/bin/sh -c command`, in
    the worktree shown at /workspace; `mounts` come after it (the repository environment)."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if bwrap is None:
        raise SandboxError("bubblewrap is not installed (no `bwrap` on PATH)")
    if prlimit is None:
        raise SandboxError("util-linux `prlimit` is not installed")
    tree = _checked_worktree(worktree)
    args = [prlimit, *_rlimits(limits), "--", bwrap, "--unshare-all", "--die-with-parent"]
    args += ["--new-session", "--cap-drop", "ALL", *_system_binds(), "--proc", "/proc"]
    args += ["--dev", "/dev", *_private_tmpfs("/dev/shm", limits), *_private_tmpfs("/tmp", limits)]
    args += _python_args()
    args += ["--bind", str(tree), WORKSPACE]
    if (tree / ".git").exists():
        args += ["--ro-bind", str(tree / ".git"), f"{WORKSPACE}/.git"]
    for extra in ro_binds:
        args += ["--ro-bind", str(extra), str(extra)]
    for mount in mounts:
        args += mount.args()
    # Once every mount exists: the root (bwrap's scratch tmpfs) and /dev (a tmpfs with no size
    # of its own) become read-only; the device nodes and /dev/shm are mounts of their own.
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", WORKSPACE, "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    # bwrap's stderr is the output pipe too (bwrap's init, pid 1 inside, keeps it open, and
    # sandboxed code can write to it): whether the sandbox started is read from the status
    # pipe alone (sandbox/status.py), never from what was written to the output.
    launcher = 'exec /bin/sh -c "$1" 2>&1'
    args += ["--json-status-fd", str(status_fd), "--", "/bin/sh", "-c", launcher, "sh", command]
    return args


def _rlimits(limits: SandboxLimits) -> list[str]:
    return [
        f"--as={limits.memory_mb * _MIB}",
        f"--cpu={limits.cpu_s}",
        f"--nproc={limits.nproc}",
        f"--fsize={limits.file_size_mb * _MIB}",
        "--core=0",  # no core files dropped into the worktree
    ]


def _private_tmpfs(path: str, limits: SandboxLimits) -> list[str]:
    return ["--size", str(limits.tmpfs_mb * _MIB), "--tmpfs", path]


def _checked_worktree(worktree: Path) -> Path:
    tree = worktree.resolve()
    if not tree.is_dir():
        raise SandboxError(f"worktree is not a directory: {worktree}")
    if any(Path(p).is_relative_to(tree) for p in ("/usr", "/etc", "/proc", *_python_dirs())):
        raise SandboxError(f"refusing to make a system directory writable: {tree}")
    if (tree / ".git").is_symlink():
        raise SandboxError(f"worktree's .git is a symlink, refusing to run in it: {tree}")
    return tree


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _TOP_LEVEL_LINKS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in _ETC_FILES:
        if os.path.lexists(name):
            args += ["--ro-bind-try", name, name]
    return args


def _python_dirs() -> list[str]:
    """The base installation's directories outside /usr (which is bound anyway); never the
    app's virtualenv (sys.prefix when it differs)."""
    prefixes = {sys.base_prefix, sys.base_exec_prefix}
    return sorted(p for p in prefixes if not Path(p).resolve().is_relative_to("/usr"))


def base_site_packages() -> list[str]:
    """The base installation's site-packages directories that exist (Debian's dist-packages
    under /usr included): hidden inside, whatever the worker installed there."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    paths = {sysconfig.get_paths(vars=base)[key] for key in ("purelib", "platlib")}
    paths |= set(site.getsitepackages([sys.base_prefix, sys.base_exec_prefix]))
    return sorted(p for p in paths if os.path.isdir(p))


def _python_args() -> list[str]:
    args: list[str] = []
    for directory in _python_dirs():
        args += ["--ro-bind", directory, directory]
    for packages in base_site_packages():
        args += ["--size", "4096", "--tmpfs", packages, "--remount-ro", packages]
    return args

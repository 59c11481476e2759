"""bwrap invoked directly, with the flags bot/sandbox_argv.build_argv uses (minus prlimit),
plus the extra mounts the environment phase needs: for tests of pieces that the sandbox
module does not take yet (egress bridge, environment directories)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts")

# The worker's base interpreter: its standard library only, never the app's site-packages.
BASE_PYTHON = str(
    Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
)


def bwrap_argv(
    command: str,
    *,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ro_binds: Sequence[Path] = (),
    rw_binds: Sequence[Path] = (),
    chdir: str = "/tmp",
) -> list[str]:
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in _TOP_LEVEL:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in _ETC:
        args += ["--ro-bind-try", name, name]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(256 << 20), "--tmpfs", "/tmp"]
    for path in sorted({sys.base_prefix, *(str(p) for p in ro_binds)}):
        args += ["--ro-bind", path, path]
    for rw in rw_binds:
        args += ["--bind", str(rw), str(rw)]
    args += [*extra, "--remount-ro", "/", "--remount-ro", "/dev", "--chdir", chdir, "--clearenv"]
    values = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **(env or {})}
    for name, value in values.items():
        args += ["--setenv", name, value]
    return [*args, "--", "/bin/sh", "-c", 'exec /bin/sh -c "$1" 2>&1', "sh", command]


async def run_bwrap(command: str, timeout: float = 300, **options: object) -> tuple[int, str]:
    """Exit status and combined output of `command` in the sandbox (started with a minimal
    environment, as bot/sandbox.py does)."""
    process = await asyncio.create_subprocess_exec(
        *bwrap_argv(command, **options),  # type: ignore[arg-type]
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin"},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, output.decode()

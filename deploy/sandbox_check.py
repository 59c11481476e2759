#!/usr/bin/env python3
"""Fail fast when this host or container cannot build the sandbox repository commands run in.

Runs one trivial command through `bot.sandbox.bwrap.run_sandboxed`, exactly as a test run does
(bubblewrap with its own user, pid, network, ipc and uts namespaces, a fresh /proc, prlimit
limits), in a scratch directory under BOT_DATA_DIR. Prints "sandbox ok" and exits 0, or says
what failed and exits 1.

`bot.sandbox.bwrap.sandbox_available()` is not enough for this: its probe mounts no /proc, and a
fresh /proc is exactly what most container defaults refuse.

Installed in the image as `orchestrate-sandbox-check`; the worker services run it before
`bot worker`, the systemd unit as ExecStartPre.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.argv import SandboxLimits
from bot.sandbox.bwrap import CommandResult, run_sandboxed

PROBE = "test -w . && test -r /proc/self/status && echo sandbox-ok"
LIMITS = SandboxLimits(timeout_s=30, memory_mb=512, cpu_s=10, output_bytes=8192)
HELP = (
    "bubblewrap needs: unprivileged user namespaces, the namespace and mount system calls "
    "(seccomp), mounts allowed by AppArmor/SELinux, and an unmasked /proc. "
    "See deploy/README.md, 'The sandbox in a container'."
)


def data_dir() -> Path:
    """Where worktrees live: the scratch directory goes there, on the same file system."""
    return Path(os.environ.get("BOT_DATA_DIR", ".bot"))


async def probe(scratch: Path) -> CommandResult:
    return await run_sandboxed(PROBE, scratch, limits=LIMITS)


def main() -> int:
    base = data_dir()
    try:
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="sandbox-check-", dir=base) as scratch:
            result = asyncio.run(probe(Path(scratch)))
    except (SandboxError, OSError) as exc:
        print(f"orchestrate-sandbox-check: {exc}", file=sys.stderr)
        print(f"orchestrate-sandbox-check: {HELP}", file=sys.stderr)
        return 1
    if result.passed and "sandbox-ok" in result.output:
        print("sandbox ok")
        return 0
    status = "timed out" if result.timed_out else f"exit {result.exit_code}"
    print(
        f"orchestrate-sandbox-check: probe failed ({status}): {result.output.strip()}",
        file=sys.stderr,
    )
    print(f"orchestrate-sandbox-check: {HELP}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

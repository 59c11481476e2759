"""A process that uses the environment cache, for cross-process tests:

    python -m tests.support.envcache_worker ROOT SCOPE KEY LOG [--crash]

It opens (scope, key); when it must build, it appends `built <pid>` to LOG after writing a
file into the environment and sleeping a little (so a second process overlaps), then marks
it complete; it always appends `ready <pid> <path>`. With --crash it prints `building` and
waits to be killed before completing.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.sandbox.env_cache import EnvironmentCache


def _append(log: str, line: str) -> None:
    with open(log, "a") as out:
        out.write(line + "\n")


async def main(root: str, scope: str, key: str, log: str, crash: bool) -> None:
    cache = EnvironmentCache(Path(root), max_bytes=1 << 40, poll_interval_s=0.01)
    async with cache.environment(scope, key) as env:
        if not env.ready:
            (env.path / "partial").write_text("half-built")
            if crash:
                print("building", flush=True)
                await asyncio.sleep(600)
            await asyncio.sleep(0.5)
            (env.path / "payload").write_text(f"built by {os.getpid()}")
            _append(log, f"built {os.getpid()}")
            await env.mark_complete()
        _append(log, f"ready {os.getpid()} {(env.path / 'payload').read_text()}")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    root, scope, key, log = arguments[:4]
    asyncio.run(main(root, scope, key, log, crash="--crash" in arguments))

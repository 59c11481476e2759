"""What this worker offers repository setups: its base interpreter (and the pip wheel bundled with
it), and the package managers on PATH that a sandbox can run (they must live in what the sandbox
shows: /usr, /bin or the base Python installation)."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import sys
from pathlib import Path

from bot.core.env_detect import WorkerTools
from bot.sandbox.mounts import base_python

__all__ = ["TOOL_NAMES", "worker_tools"]

TOOL_NAMES = ("uv", "poetry", "npm", "pnpm", "yarn")
_VISIBLE_ROOTS = ("/usr", "/bin", "/sbin", "/lib")


@functools.cache
def worker_tools() -> WorkerTools:
    """The worker's tools, looked up once per process."""
    paths = {}
    for name in TOOL_NAMES:
        found = shutil.which(name)
        if found is not None and _visible_inside(found):
            paths[name] = found
    return WorkerTools(base_python(), platform.python_version(), paths, _bundled_pip())


def _visible_inside(path: str) -> bool:
    real = os.path.realpath(path)
    roots = [*_VISIBLE_ROOTS, os.path.realpath(sys.base_prefix)]
    return any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots)


def _bundled_pip() -> str | None:
    """The pip wheel ensurepip would seed virtualenvs with (Debian keeps it elsewhere, and
    a distribution may leave it out: then virtualenvs get pip the slow way)."""
    try:
        import ensurepip

        package = ensurepip._get_packages()["pip"]  # type: ignore[attr-defined]
        bundled = Path(ensurepip.__file__).parent / "_bundled"
        wheel = package.wheel_path or bundled / package.wheel_name
    except (ImportError, AttributeError, KeyError, TypeError):
        return None
    wheel = str(wheel)
    return wheel if os.path.isfile(wheel) and _visible_inside(wheel) else None

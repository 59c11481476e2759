"""What defines a revision's environment, read from git objects of the worker's mirror: the plan
(bot/core/env_detect.py) for the top-level files, and the cache key over the plan, the files
it names, the interpreter and the allow-list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.core.env_detect import READ_FILES, RepoFiles, SetupPlan, WorkerTools, plan_setup
from bot.core.env_manifests import MAX_MANIFEST_CHARS
from bot.errors import ConfigError
from bot.git.run import GitRunner
from bot.git.snapshot import read_blobs, top_level_blobs
from bot.sandbox.env_cache import environment_key

__all__ = ["KEY_ENV_DIR", "MAX_INPUT_BYTES", "Defined", "define"]

# The key is computed from the plan for this placeholder: the real directory contains the key.
KEY_ENV_DIR = "/ENV"
MAX_INPUT_BYTES = 64 * 1024 * 1024
_KEY_FORMAT = "orchestrate-environment-1"


@dataclass(frozen=True)
class Defined:
    """A revision's files as detection sees them, its plan (for the placeholder directory)
    and its key."""

    files: RepoFiles
    plan: SetupPlan
    key: str


async def define(
    git: GitRunner,
    mirror: Path,
    revision: str,
    *,
    tools: WorkerTools,
    setup_command: str | None,
    allow: tuple[str, ...],
    sources: dict[str, str],
) -> Defined:
    """The revision's plan and key. `sources` (the index and registry the worker points
    setups at) are part of the key: another index may hold other packages."""
    blobs = await top_level_blobs(git, mirror, revision)
    manifests = [blobs[name] for name in READ_FILES if name in blobs]
    read = await read_blobs(git, mirror, manifests, MAX_INPUT_BYTES) if manifests else {}
    texts = {}
    for name in READ_FILES:
        if name in blobs:
            data = read[blobs[name]]
            # Too large: a text over the limit, which detection ignores with a note.
            too_large = data is None or len(data) > MAX_MANIFEST_CHARS
            texts[name] = "\0" * (MAX_MANIFEST_CHARS + 1) if too_large else _text(data or b"")
    files = RepoFiles(frozenset(blobs), texts)
    plan = plan_setup(files, tools, KEY_ENV_DIR, setup_command)
    missing = [blobs[name] for name in plan.inputs if blobs[name] not in read]
    if missing:
        read |= await read_blobs(git, mirror, missing, MAX_INPUT_BYTES)
    contents = {}
    for name in plan.inputs:
        data = read[blobs[name]]
        if data is None:
            limit = MAX_INPUT_BYTES // (1024 * 1024)
            raise ConfigError(f"{name} is larger than {limit} MiB: the environment is not built")
        contents[name] = data
    key = environment_key(
        files=contents,
        steps=[step.command_line() for step in plan.steps],
        interpreter=tools.python_version,
        allow=allow,
        extra={"format": _KEY_FORMAT, **sources},
    )
    return Defined(files, plan, key)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")

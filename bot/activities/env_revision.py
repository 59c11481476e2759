"""What defines a revision's environment, read from git objects of the worker's mirror: the plan
(bot/core/env_detect.py) for the top-level files, and the cache key over the plan, the files
it names, the interpreter and the allow-list.

Only the few manifests detection parses (READ_FILES, each up to MAX_MANIFEST_CHARS bytes) are
read into the worker, and they are parsed in a child process (bot/sandbox/manifest_child.py).
The key needs no file contents: git already hashes them, so it is computed over each input's
name and blob id. A revision is defined once per `ensure`; the `Defined` carries the parsed
manifests to every later plan of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.core.env_detect import READ_FILES, RepoFiles, SetupPlan, WorkerTools, plan_setup
from bot.core.env_key import environment_key
from bot.core.env_manifests import MAX_MANIFEST_CHARS
from bot.git.run import GitRunner
from bot.git.snapshot import read_blobs, top_level_blobs
from bot.sandbox.manifest_child import parse_manifests

__all__ = ["KEY_ENV_DIR", "Defined", "define"]

# The key is computed from the plan for this placeholder: the real directory contains the key.
KEY_ENV_DIR = "/ENV"
# 2: inputs hashed by blob id (1 hashed their contents).
_KEY_FORMAT = "orchestrate-environment-2"


@dataclass(frozen=True)
class Defined:
    """A revision's files as detection sees them (manifests parsed), its plan (for the
    placeholder directory) and its key."""

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
    present = [name for name in READ_FILES if name in blobs]
    # At most len(READ_FILES) blobs of MAX_MANIFEST_CHARS bytes each; larger ones stay unread.
    wanted = [blobs[name] for name in present]
    read = await read_blobs(git, mirror, wanted, MAX_MANIFEST_CHARS) if wanted else {}
    texts = {name: _text(read[blobs[name]]) for name in present}
    manifests = await parse_manifests(texts, "setup.py" in blobs)
    files = RepoFiles(frozenset(blobs), manifests)
    plan = plan_setup(files, tools, KEY_ENV_DIR, setup_command)
    key = environment_key(
        files={name: blobs[name].encode() for name in plan.inputs},
        steps=[step.command_line() for step in plan.steps],
        interpreter=tools.python_version,
        allow=allow,
        extra={"format": _KEY_FORMAT, **sources},
    )
    return Defined(files, plan, key)


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")

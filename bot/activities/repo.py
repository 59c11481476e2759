"""The repository activities: what the run learns before planning (default branch head, repo
config, a short summary), the scratch branch, and the attribution of the final diff (the glue
between git/history.py's commands and core/attribution.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.heartbeat import HEARTBEAT_SECONDS, heartbeating
from bot.activities.inputs import (
    Attributed,
    AttributeInput,
    BranchInput,
    RunContext,
    TargetInput,
)
from bot.core.attribution import Attribution, attribute, detailed_files
from bot.core.diff import FileDiff
from bot.core.pricing import PriceTable
from bot.core.repo_config import CONFIG_PATH, parse_repo_config
from bot.errors import ConfigError, GitError
from bot.git.history import (
    blame_porcelain,
    commit_patches,
    diff_hunks,
    log_with_trailers,
    merge_base,
)
from bot.git.mirror import MirrorCache
from bot.git.parse import parse_agent_log, parse_blame_porcelain, parse_commit_patches, parse_diff
from bot.git.refs import create_branch
from bot.git.run import command_name, git_lines
from bot.github.forge import Forge
from bot.render.attribution import UNAVAILABLE, render_table

log = logging.getLogger(__name__)

SUMMARY_MAX_FILES = 300
README_HEAD_LINES = 60
SUMMARY_LINE_CHARS = 300  # of a file name or a README line
SUMMARY_MAX_CHARS = 40_000  # what the planner and the agents are shown of it at most
SUMMARY_FILES_CHARS = 24_000  # of that, for the file names
CONFIG_MAX_BYTES = 64 * 1024  # a settings file; anything larger is not one
_TOP_LEVEL_NAMES = 10_000
_READMES = frozenset({"readme.md", "readme.rst", "readme"})
_BLAME_CONCURRENCY = 8
_RANGES_PER_BLAME = 200  # `-L` arguments per git blame: far below ARG_MAX
# Within policies.GIT's start-to-close time, so a slow attribution is a note, not a retry.
ATTRIBUTION_TIMEOUT_S = 180.0


class RepoActivities:
    def __init__(self, forge: Forge, cache: MirrorCache, prices: PriceTable | None = None) -> None:
        self.forge = forge
        self.cache = cache
        self.prices = prices or PriceTable.default()

    @activity.defn
    async def run_context(self, params: TargetInput) -> RunContext:
        """Default branch head, `.github/orchestrate.yml` there, and a short repository summary."""
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                return await self._context(params)

    async def _context(self, params: TargetInput) -> RunContext:
        branch = await self.forge.default_branch(params.target)
        mirror = await self.cache.sync(await self.forge.remote(params.target))
        base = await self.cache.remote_head(mirror, branch)
        if base is None:
            raise ConfigError(f"default branch {branch} has no commits")
        summary = await self._summary(mirror, base)
        try:
            config = parse_repo_config(await self._config_text(mirror, base))
        except ConfigError as exc:
            return RunContext(default_branch=branch, base_sha=base, config_error=str(exc))
        return RunContext(
            default_branch=branch,
            base_sha=base,
            config=config,
            repo_summary=summary,
            prices=self.prices,
        )

    async def _config_text(self, mirror: Path, base: str) -> str | None:
        """The repository config at `base` (None: there is none); ConfigError past its size."""
        spec = f"{base}:{CONFIG_PATH}"
        sized = await self.cache.git(["cat-file", "-s", spec], cwd=mirror, check=False)
        if sized.returncode != 0:
            return None
        if int(sized.stdout.strip() or 0) > CONFIG_MAX_BYTES:
            raise ConfigError(f"{CONFIG_PATH} is larger than {CONFIG_MAX_BYTES} bytes")
        shown = await self.cache.git(["show", spec], cwd=mirror, check=False)
        return shown.stdout if shown.returncode == 0 else None

    async def _summary(self, mirror: Path, rev: str) -> str:
        """File names and the README's start, bounded whatever the repository holds: at most
        SUMMARY_MAX_FILES names (within SUMMARY_FILES_CHARS) and README_HEAD_LINES lines, each
        cut to SUMMARY_LINE_CHARS, read without ever holding more (git_lines); the whole
        within SUMMARY_MAX_CHARS."""
        args = ["ls-tree", "-r", "--name-only", rev]
        files, complete = await _lines(mirror, args, SUMMARY_MAX_FILES)
        listing = _within(files, SUMMARY_FILES_CHARS)
        if len(listing) < len(files) or not complete:
            listing.append("… and more files")
        top, _ = await _lines(mirror, ["ls-tree", "--name-only", rev], _TOP_LEVEL_NAMES)
        readme = next((name for name in top if name.lower() in _READMES), None)
        summary = "Files:\n" + "\n".join(listing)
        if readme:
            args = ["cat-file", "blob", f"{rev}:{readme}"]
            head, _ = await _lines(mirror, args, README_HEAD_LINES)
            section = f"\n\n{readme} (start):\n"
            room = SUMMARY_MAX_CHARS - len(summary) - len(section)
            summary += section + "\n".join(_within(head, room)) if head else ""
        return summary[:SUMMARY_MAX_CHARS]

    @activity.defn
    async def prepare_branch(self, params: BranchInput) -> str:
        """The scratch branch at the base commit (its head when it exists already)."""
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                remote = await self.forge.remote(params.target)
                return await create_branch(self.cache, remote, params.branch, params.base_sha)

    @activity.defn
    async def attribute(self, params: AttributeInput) -> Attributed:
        """The attribution table of the scratch branch against the base. Only the mirror's
        sync may fail (and be retried): attribution itself is local work over what agents
        wrote, so when it fails or takes too long the table is a note and the run goes on."""
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                mirror = await self.cache.sync(await self.forge.remote(params.target))
        head = f"refs/remotes/origin/{params.branch}"
        try:
            async with heartbeating(HEARTBEAT_SECONDS), asyncio.timeout(ATTRIBUTION_TIMEOUT_S):
                attribution = await attribute_range(mirror, params.base_sha, head)
        except Exception:
            log.exception("attribution of %s failed", params.branch)
            return Attributed(table=UNAVAILABLE)
        return Attributed(table=render_table(attribution, max_rows=params.max_rows))

    def activities(self) -> list[Any]:
        return [self.run_context, self.prepare_branch, self.attribute]


async def attribute_range(repo: Path, base: str, head: str) -> Attribution:
    """Attribute every hunk of `git diff base...head` in `repo` to agents: the history commands
    run here, their output is parsed, and core/attribution.py decides."""
    start = await merge_base(repo, base, head)
    diff_text, trailers, patches = await asyncio.gather(
        diff_hunks(repo, start, head),
        log_with_trailers(repo, start, head),
        commit_patches(repo, start, head),
    )
    files = await asyncio.to_thread(parse_diff, diff_text)
    gate = asyncio.Semaphore(_BLAME_CONCURRENCY)

    async def blame(path: str, ranges: Sequence[tuple[int, int]]) -> tuple[str, dict[int, str]]:
        async with gate:
            # The range stops blame at the merge base: older lines are not this run's work.
            text = await blame_porcelain(repo, f"{start}..{head}", path, ranges)
        return path, await asyncio.to_thread(parse_blame_porcelain, text)

    # Bounded argv: at most _RANGES_PER_BLAME `-L` arguments per command.
    wanted = _blamed_ranges(detailed_files(files))
    calls = [(path, part) for path, ranges in wanted.items() for part in _parts(ranges)]
    blames: dict[str, dict[int, str]] = {}
    for path, lines in await asyncio.gather(*(blame(path, part) for path, part in calls)):
        blames.setdefault(path, {}).update(lines)
    history, agents = parse_commit_patches(patches), parse_agent_log(trailers)
    return await asyncio.to_thread(attribute, files, blames, history, agents)


async def _lines(repo: Path, args: list[str], limit: int) -> tuple[list[str], bool]:
    """The first `limit` lines `git *args` prints, each cut to SUMMARY_LINE_CHARS, and whether
    that was all of them. A command that failed on its own is a GitError."""
    found = await git_lines(args, cwd=repo, limit=limit, max_line_bytes=4 * SUMMARY_LINE_CHARS)
    if found.complete and found.returncode != 0:
        raise GitError(f"{command_name(args)} failed: {found.stderr[:500]}")
    lines = []
    for raw in found.lines:
        text = raw.decode("utf-8", "replace")
        lines.append(
            text if len(text) <= SUMMARY_LINE_CHARS else text[:SUMMARY_LINE_CHARS] + " […]"
        )
    return lines, found.complete


def _within(lines: list[str], chars: int) -> list[str]:
    """The first lines that fit in `chars` characters, newlines counted."""
    kept: list[str] = []
    for line in lines:
        chars -= len(line) + 1
        if chars < 0:
            break
        kept.append(line)
    return kept


def _parts(ranges: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    return [ranges[at : at + _RANGES_PER_BLAME] for at in range(0, len(ranges), _RANGES_PER_BLAME)]


def _blamed_ranges(files: list[FileDiff]) -> dict[str, list[tuple[int, int]]]:
    """Per file at head, the line ranges of its text hunks. A gitlink has no lines at head (`git
    blame` fails on it): core/attribution.py gives it a whole-file row, as it does binary files."""
    wanted: dict[str, list[tuple[int, int]]] = {}
    for file in files:
        if file.new_path is not None and not file.binary and not file.submodule:
            ranges = [(h.new_start, h.new_start + h.new_count - 1) for h in file.hunks]
            ranges = [r for r in ranges if r[1] >= r[0]]
            if ranges:
                wanted[file.new_path] = ranges
    return wanted

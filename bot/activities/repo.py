"""The repository activities: what the run learns before planning (default branch head, repo
config, a short summary), the scratch branch, and the attribution of the final diff (the glue
between git/history.py's commands and core/attribution.py)."""

from __future__ import annotations

import asyncio
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
from bot.core.attribution import Attribution, attribute
from bot.core.diff import FileDiff
from bot.core.pricing import PriceTable
from bot.core.repo_config import CONFIG_PATH, parse_repo_config
from bot.errors import ConfigError
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
from bot.github.forge import Forge
from bot.render.attribution import render_table

SUMMARY_MAX_FILES = 300
README_HEAD_LINES = 60
_BLAME_CONCURRENCY = 8


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
        shown = await self.cache.git(["show", f"{base}:{CONFIG_PATH}"], cwd=mirror, check=False)
        summary = await self._summary(mirror, base)
        try:
            config = parse_repo_config(shown.stdout if shown.returncode == 0 else None)
        except ConfigError as exc:
            return RunContext(default_branch=branch, base_sha=base, config_error=str(exc))
        return RunContext(
            default_branch=branch,
            base_sha=base,
            config=config,
            repo_summary=summary,
            prices=self.prices,
        )

    async def _summary(self, mirror: Path, rev: str) -> str:
        listed = await self.cache.git(["ls-tree", "-r", "--name-only", rev], cwd=mirror)
        files = listed.stdout.splitlines()
        shown = files[:SUMMARY_MAX_FILES]
        more = f"\n… and {len(files) - len(shown)} more files" if len(files) > len(shown) else ""
        readme = next(
            (f for f in files if f.lower() in {"readme.md", "readme.rst", "readme"}), None
        )
        head = ""
        if readme:
            text = await self.cache.git(["show", f"{rev}:{readme}"], cwd=mirror, check=False)
            head = "\n".join(text.stdout.splitlines()[:README_HEAD_LINES])
        return (
            "Files:\n"
            + "\n".join(shown)
            + more
            + (f"\n\n{readme} (start):\n{head}" if head else "")
        )

    @activity.defn
    async def prepare_branch(self, params: BranchInput) -> str:
        """The scratch branch at the base commit (its head when it exists already)."""
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                remote = await self.forge.remote(params.target)
                return await create_branch(self.cache, remote, params.branch, params.base_sha)

    @activity.defn
    async def attribute(self, params: AttributeInput) -> Attributed:
        """The attribution table of the scratch branch against the base."""
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):
                mirror = await self.cache.sync(await self.forge.remote(params.target))
                head = f"refs/remotes/origin/{params.branch}"
                attribution = await attribute_range(mirror, params.base_sha, head)
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
    files = parse_diff(diff_text)
    gate = asyncio.Semaphore(_BLAME_CONCURRENCY)

    async def blame(path: str, ranges: list[tuple[int, int]]) -> tuple[str, dict[int, str]]:
        async with gate:
            # The range stops blame at the merge base: older lines are not this run's work.
            text = await blame_porcelain(repo, f"{start}..{head}", path, ranges)
        return path, parse_blame_porcelain(text)

    wanted = _blamed_ranges(files)
    blames = dict(await asyncio.gather(*(blame(path, r) for path, r in wanted.items())))
    return attribute(files, blames, parse_commit_patches(patches), parse_agent_log(trailers))


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

"""Landing an agent's commit: rebased from the agent's own branch onto the run's branch and
pushed there (fetch-rebase-retry against the other agents' landings), or the conflict handed
back to the workflow, which has the agent resolve it. And, at the end of a run, the per-agent
branches that landed deleted (best effort).

Idempotent: a landing whose answer was lost is found on the branch by its task trailer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio import activity

from bot.activities.boundary import boundary
from bot.activities.heartbeat import heartbeating
from bot.activities.inputs import BranchesInput, Landed, LandInput
from bot.activities.workspace import checked_out, workdir
from bot.errors import RebaseConflict
from bot.git.history import find_task_commit
from bot.git.mirror import MirrorCache
from bot.git.refs import delete_branches, push
from bot.github.forge import Forge

HEARTBEAT_SECONDS = 1.0


class LandActivities:
    def __init__(self, forge: Forge, cache: MirrorCache, work_root: Path) -> None:
        self.forge = forge
        self.cache = cache
        self.work_root = work_root

    @activity.defn
    async def land(self, params: LandInput) -> Landed:
        """Put the commit on `params.source` on top of `params.branch`; its new sha, or the
        files that conflict (nothing pushed then)."""
        name = "land-" + params.source.rsplit("--", 1)[-1]
        path = workdir(self.work_root, params.run_workflow_id, name)
        with boundary():
            remote = await self.forge.remote(params.target)
            async with heartbeating(HEARTBEAT_SECONDS):
                mirror = await self.cache.sync(remote)
                head = f"refs/remotes/origin/{params.branch}"
                landed = await find_task_commit(mirror, params.task, [head])
                if landed is not None:
                    return Landed(commits=[landed.sha])
                async with checked_out(
                    self.cache, remote, params.branch, path, params.source
                ) as tree:
                    try:
                        await tree.rebase_onto_remote()
                        return Landed(commits=[await push(self.cache, tree)])
                    except RebaseConflict as conflict:
                        await tree.abort_rebase()
                        return Landed(conflict_files=conflict.files)

    @activity.defn
    async def delete_branches(self, params: BranchesInput) -> list[str]:
        """Delete the run's own branches that are done with; those gone (best effort)."""
        with boundary():
            async with heartbeating(HEARTBEAT_SECONDS):  # the GIT policy times out silence
                remote = await self.forge.remote(params.target)
                return await delete_branches(self.cache, remote, params.branches)

    def activities(self) -> list[Any]:
        return [self.land, self.delete_branches]

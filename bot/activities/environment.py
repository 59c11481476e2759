"""The repository's environment: the `prepare_environment` activity (the run's phase before the
agents), and `Environments.ensure`, which the agent and test activities call first because they
may run on another worker (a hit in this worker's cache is instant; a miss builds it here).

A revision's environment is defined by its top-level files, read from git objects of the
worker's mirror (bot/activities/env_revision.py), and kept in the worker's cache
(bot/sandbox/env_cache.py) per repository (the remote's scope) and key. A miss builds it in a
throwaway worktree of the revision, in the sandbox, through the egress proxy
(bot/sandbox/env_setup.py), which may write at most the cache's build budget. A failed setup is
a report, not an error: the workflow stops the run (or the test round fails) and says why; what
it wrote is gone by then (the cache wipes a build that did not finish). A setup that failed
while the proxy saw allowed hosts failing (bot/sandbox/egress_faults.py) may have failed for
that: `prepare_environment` raises a retryable error instead, until its last attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.activities.env_revision import Defined, define
from bot.activities.inputs import EnvironmentSpec
from bot.activities.workspace import sweep_abandoned_work
from bot.core.egress_allow import EgressAllowList
from bot.core.egress_policy import EgressRefused
from bot.core.env_detect import SetupPlan, plan_setup
from bot.core.environment import EnvironmentReport, EnvironmentStatus
from bot.core.remote import Remote
from bot.errors import ConfigError, GitError, SandboxError
from bot.git.mirror import MirrorCache
from bot.git.run import checked_rev
from bot.git.snapshot import open_snapshot
from bot.github.forge import Forge
from bot.sandbox.disk_guard import over_budget
from bot.sandbox.env_cache import Environment, EnvironmentCache
from bot.sandbox.env_disk import disk_usage
from bot.sandbox.env_setup import (
    SetupOutcome,
    SetupRun,
    environment_view,
    run_setup,
    setup_limits,
)
from bot.sandbox.held_dirs import held_dir
from bot.sandbox.mounts import NO_ENVIRONMENT, SandboxEnvironment
from bot.sandbox.worker_tools import worker_tools

__all__ = ["EnvironmentOptions", "Environments", "Prepared"]

OUTPUT_TAIL_CHARS = 6000
MAX_EGRESS_LINES = 50
_MIB = 1024 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnvironmentOptions:
    """The operator's side of environments (bot/app/settings.py)."""

    allow: EgressAllowList
    cache_root: Path
    max_bytes: int
    work_root: Path  # throwaway worktrees of setups
    socket_root: Path  # the proxies' private socket directories (short paths)
    pip_index_url: str | None = None
    npm_registry_url: str | None = None
    ca_bundle: Path | None = None

    def sources(self) -> dict[str, str]:
        return {"pip_index": self.pip_index_url or "", "npm_registry": self.npm_registry_url or ""}


@dataclass(frozen=True)
class Prepared:
    """An environment ready to use (`view` is how sandboxes see it), or why not."""

    report: EnvironmentReport
    view: SandboxEnvironment = NO_ENVIRONMENT


class Environments:
    """This worker's environments: defined from a revision, cached, built on a miss."""

    def __init__(self, forge: Forge, mirrors: MirrorCache, options: EnvironmentOptions) -> None:
        self.forge = forge
        self.mirrors = mirrors
        self.options = options
        self.cache = EnvironmentCache(options.cache_root, max_bytes=options.max_bytes)

    @contextlib.asynccontextmanager
    async def ensure(self, spec: EnvironmentSpec) -> AsyncIterator[Prepared]:
        """The environment of the spec's revision, in use until exit: eviction leaves it
        alone meanwhile."""
        started = time.monotonic()
        remote = await self.forge.remote(spec.target)
        mirror, revision = await self._revision(remote, spec.revision)
        try:
            defined = await self._define(spec, mirror, revision)
        except (EgressRefused, ConfigError) as exc:
            yield Prepared(_failed(revision, "", str(exc), started))
            return
        if defined.plan.empty:
            yield Prepared(_report(EnvironmentStatus.NONE, defined, revision, started))
            return
        async with self.cache.environment(remote.scope, defined.key) as environment:
            if environment.ready:
                status = EnvironmentStatus.CACHED
            else:
                failure = await self._build(remote, spec, revision, defined, environment)
                if failure is not None:
                    yield Prepared(failure.model_copy(update={"duration_s": _since(started)}))
                    return
                status = EnvironmentStatus.BUILT
            plan = plan_setup(
                defined.files, worker_tools(), str(environment.path), spec.setup_command
            )
            report = _report(status, defined, revision, started)
            yield Prepared(report, environment_view(environment, plan))

    @contextlib.asynccontextmanager
    async def usable(self, spec: EnvironmentSpec) -> AsyncIterator[Prepared]:
        """The run's environment for an agent or a test round. The phase before the agents
        built it once already, so failing to build it here (another worker, an index down
        meanwhile) is the machinery's failure, retried: never a failed round or agent."""
        async with self.ensure(spec) as prepared:
            if not prepared.report.usable:
                why = prepared.report.error
                raise SandboxError(f"the environment could not be built on this worker: {why}")
            yield prepared

    async def key_of(self, spec: EnvironmentSpec, revision: str) -> str:
        """The key `revision`'s files would give the environment ("" when they define none
        that could be built); reads git objects only, runs nothing."""
        remote = await self.forge.remote(spec.target)
        mirror, revision = await self._revision(remote, revision)
        try:
            defined = await self._define(spec, mirror, revision)
        except (EgressRefused, ConfigError):
            return ""
        return defined.key

    async def _define(self, spec: EnvironmentSpec, mirror: Path, revision: str) -> Defined:
        return await define(
            self.mirrors.git,
            mirror,
            revision,
            tools=worker_tools(),
            setup_command=spec.setup_command,
            allow=self.options.allow.entries(spec.network_allow),
            sources=self.options.sources(),
        )

    async def _revision(self, remote: Remote, revision: str) -> tuple[Path, str]:
        """The mirror, fetched when it lacks the revision."""
        mirror = self.mirrors.mirror_path(remote)
        if not await self._has_commit(mirror, revision):
            mirror = await self.mirrors.sync(remote)
        if not await self._has_commit(mirror, revision):
            raise GitError(f"commit {revision[:12]} is not in the repository")
        return mirror, revision

    async def _has_commit(self, mirror: Path, revision: str) -> bool:
        if not mirror.is_dir():
            return False
        args = ["cat-file", "-e", f"{checked_rev(revision)}^{{commit}}"]
        return (await self.mirrors.git(args, cwd=mirror, check=False)).returncode == 0

    async def _build(
        self,
        remote: Remote,
        spec: EnvironmentSpec,
        revision: str,
        defined: Defined,
        environment: Environment,
    ) -> EnvironmentReport | None:
        """Build into `environment`; None when it worked (it is marked complete), else the
        failure's report (the cache wipes the incomplete directory)."""
        plan = plan_setup(defined.files, worker_tools(), str(environment.path), spec.setup_command)
        outcome = await self._setup(remote, spec, revision, plan, environment)
        egress = list(outcome.egress[:MAX_EGRESS_LINES])
        _log_outcome(remote, defined, outcome, egress)
        why = await self._why_failed(outcome, environment)
        if why:
            report = _report(EnvironmentStatus.FAILED, defined, revision, time.monotonic())
            return report.model_copy(
                update={
                    "egress": egress,
                    "output_tail": outcome.output[-OUTPUT_TAIL_CHARS:],
                    "error": why,
                    "upstream_faults": _faults_that_may_explain(outcome),
                }
            )
        await environment.mark_complete()
        return None

    async def _why_failed(self, outcome: SetupOutcome, environment: Environment) -> str:
        """Why the setup did not build a usable environment, or "" when it did. An
        environment past the budget is refused even when the walks during the setup missed
        it (a directory they could not read)."""
        budget_mb = self.cache.build_budget // _MIB
        too_big = f"the environment grew past {budget_mb} MiB (half of ORCHESTRATE_ENV_CACHE_MB)"
        if outcome.killed:
            return too_big if outcome.killed == over_budget(budget_mb) else outcome.killed
        if not outcome.passed and _faults_that_may_explain(outcome):
            return "the setup failed while an allowed host was failing"
        if not outcome.passed:
            return f"the setup {'timed out' if outcome.timed_out else 'failed'}"
        if await asyncio.to_thread(disk_usage, environment.path) > self.cache.build_budget:
            return too_big
        return ""

    async def _setup(
        self,
        remote: Remote,
        spec: EnvironmentSpec,
        revision: str,
        plan: SetupPlan,
        environment: Environment,
    ) -> SetupOutcome:
        """The plan run in a throwaway worktree of `revision`, through the proxy."""
        options = self.options
        await sweep_abandoned_work(self.mirrors, options.work_root, per_run=False)
        where = options.work_root / f"setup-{uuid.uuid4().hex[:12]}"
        async with (
            held_dir(where),  # what a killed setup left is swept (above)
            open_snapshot(self.mirrors, remote, revision, where / "tree") as snapshot,
        ):
            return await run_setup(
                SetupRun(
                    worktree=snapshot.path,
                    git_dirs=(snapshot.mirror,),
                    environment=environment,
                    plan=plan,
                    policy=options.allow.policy(spec.network_allow),
                    limits=setup_limits(spec.timeout_minutes, self.cache.build_budget // _MIB),
                    python=worker_tools().python,
                    socket_root=options.socket_root,
                    pip_index_url=options.pip_index_url,
                    npm_registry_url=options.npm_registry_url,
                    ca_bundle=options.ca_bundle,
                    scratch=where / "scratch",
                )
            )


def _report(
    status: EnvironmentStatus, defined: Defined, revision: str, started: float
) -> EnvironmentReport:
    return EnvironmentReport(
        status=status,
        description=defined.plan.description,
        revision=revision,
        duration_s=_since(started),
        key=defined.key,
    )


def _failed(revision: str, description: str, error: str, started: float) -> EnvironmentReport:
    return EnvironmentReport(
        status=EnvironmentStatus.FAILED,
        description=description,
        revision=revision,
        duration_s=_since(started),
        error=error,
    )


def _log_outcome(
    remote: Remote, defined: Defined, outcome: SetupOutcome, egress: list[str]
) -> None:
    """What each setup reached (or was refused) goes to the worker's log, for operators."""
    log.info(
        "environment %s of %s %s in %.1f s (%s); egress: %s",
        defined.key[:12],
        remote.scope,
        "built" if outcome.passed else "failed",
        outcome.duration_s,
        defined.plan.description,
        "; ".join(egress) or "none",
    )


def _faults_that_may_explain(outcome: SetupOutcome) -> list[str]:
    """The upstream faults a setup met when they may be why it failed: not when it passed,
    ran out of time, or was stopped by a limit (trying again would do the same)."""
    if outcome.passed or outcome.timed_out or outcome.killed:
        return []
    return list(outcome.upstream_faults)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)

"""The run's Temporal activities: thin adapters over the forge, git, the sandbox and the model."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from bot.activities import github_errors
from bot.agents.model import ModelClient
from bot.agents.planner import PlanInvalid, make_plan
from bot.agents.prompt import SharedContext, warm_request
from bot.agents.runner import AgentRunner, AgentTask, RunLink
from bot.core.pricing import PriceTable
from bot.core.remote import Remote
from bot.core.repo_config import CONFIG_PATH, parse_repo_config
from bot.core.results import AgentResult, TestRound
from bot.core.targets import Target
from bot.core.usage import Usage
from bot.errors import ConfigError, GitError, ModelError
from bot.git.history import attribute_range
from bot.git.mirror import MirrorCache
from bot.git.worktree import Worktree, open_worktree, remove_worktree
from bot.github.forge import Forge
from bot.github.models import Comment, FollowUp, PullRequest
from bot.render.attribution import render_table
from bot.run_io import (
    AgentInput,
    AttributeInput,
    AttributionOut,
    BranchInput,
    ContextInput,
    EditInput,
    PlanInput,
    PlanResult,
    PostInput,
    PullInput,
    ReactInput,
    RunContext,
    TestInput,
    WarmInput,
)
from bot.sandbox.bwrap import SandboxLimits, run_sandboxed

SUMMARY_MAX_FILES = 300
README_HEAD_LINES = 60
TEST_OUTPUT_TAIL = 8000


def model_failure(exc: ModelError) -> ApplicationError:
    return ApplicationError(
        str(exc),
        type="ModelError" if exc.retryable else "ModelRefused",
        non_retryable=not exc.retryable,
    )


class RunActivities:
    def __init__(
        self,
        forge: Forge,
        *,
        cache: MirrorCache,
        work_root: Path,
        model: ModelClient,
        link: Callable[[str], RunLink],
        prices: PriceTable | None = None,
    ) -> None:
        self.forge = forge
        self.prices = prices or PriceTable.default()
        self.cache = cache
        self.work_root = work_root
        self.model = model
        self.link = link

    async def _remote(self, target: Target) -> Remote:
        with github_errors():
            return await self.forge.remote(target)

    # -- repository ------------------------------------------------------------------------------

    @activity.defn
    async def run_context(self, params: ContextInput) -> RunContext:
        """Default branch head, `.github/orchestrate.yml` there, and a short repository summary."""
        with github_errors():
            branch = await self.forge.default_branch(params.target)
            remote = await self._remote(params.target)
            mirror = await self.cache.sync(remote)
        base = await self.cache.remote_head(mirror, branch)
        if base is None:
            raise ApplicationError(f"default branch {branch} has no commits", non_retryable=True)
        shown = await self.cache.git(["show", f"{base}:{CONFIG_PATH}"], cwd=mirror, check=False)
        config_text = shown.stdout if shown.returncode == 0 else None
        summary = await self._summary(mirror, base)
        try:
            config = parse_repo_config(config_text)
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
        from bot.git.refs import create_branch

        remote = await self._remote(params.target)
        try:
            return await create_branch(self.cache, remote, params.branch, params.base_sha)
        except GitError as exc:
            raise ApplicationError(str(exc), type="GitError") from exc

    # -- model -----------------------------------------------------------------------------------

    @activity.defn
    async def plan(self, params: PlanInput) -> PlanResult:
        model_name = params.config.models.planner
        try:
            outcome = await make_plan(
                self.model,
                model_name=model_name,
                task=params.task,
                issue_title=params.issue_title,
                issue_body=params.issue_body,
                repo_summary=params.repo_summary,
                default_test_command=params.config.test_command,
                allowed_roles=params.config.agents,
            )
        except PlanInvalid as exc:
            return PlanResult(error=str(exc), model=model_name, usage=exc.usage, attempts=2)
        except ModelError as exc:
            raise model_failure(exc) from exc
        return PlanResult(
            plan=outcome.plan, model=model_name, usage=outcome.usage, attempts=outcome.attempts
        )

    @activity.defn
    async def warm_cache(self, params: WarmInput) -> Usage:
        """One request with the shared prefix, so the agents' first turns read the cache."""
        shared = SharedContext.build(params.plan, params.repo_summary, params.config)
        try:
            reply = await self.model.create(**warm_request(shared, params.config.models.implement))
        except ModelError as exc:
            raise model_failure(exc) from exc
        return reply.usage

    @activity.defn
    async def run_agent(self, params: AgentInput) -> AgentResult:
        remote = await self._remote(params.target)
        path = self._workdir(params.run_workflow_id, f"{params.role.value}-r{params.round}")
        link = self.link(params.run_workflow_id)
        runner = AgentRunner(self.model, self.cache, link, heartbeat=activity.heartbeat)
        task = AgentTask(
            role=params.role,
            round=params.round,
            plan=params.plan,
            repo_summary=params.repo_summary,
            config=params.config,
            feedback=params.feedback,
        )
        try:
            async with self._worktree(remote, params.branch, path) as tree:
                ticker = asyncio.create_task(_heartbeat_every(1.0))
                try:
                    return await runner.run(task, tree)
                finally:
                    ticker.cancel()
        except ModelError as exc:
            raise model_failure(exc) from exc
        except GitError as exc:
            raise ApplicationError(str(exc), type="GitError") from exc

    # -- reconcile -------------------------------------------------------------------------------

    @activity.defn
    async def run_tests(self, params: TestInput) -> TestRound:
        """The test command on the scratch head, in the sandbox (setup command first)."""
        remote = await self._remote(params.target)
        run_id = activity.info().workflow_id or "run"
        async with self._worktree(
            remote, params.branch, self._workdir(run_id, f"tests-r{params.round}")
        ) as tree:
            limits = SandboxLimits(timeout_s=params.timeout_minutes * 60)
            head = await tree.head()
            heartbeat = asyncio.create_task(_heartbeat_every(10.0))
            try:
                if params.setup_command:
                    setup = await run_sandboxed(params.setup_command, tree.path, limits=limits)
                    if not setup.passed:
                        return _round(
                            params,
                            head,
                            setup.exit_code,
                            setup.timed_out,
                            setup.duration_s,
                            f"setup command failed: {params.setup_command}\n{setup.output}",
                        )
                result = await run_sandboxed(params.command, tree.path, limits=limits)
            finally:
                heartbeat.cancel()
                # Before any host git looks at the worktree again (only its removal, today).
                await tree.remove_nested_repos()
        return _round(
            params, head, result.exit_code, result.timed_out, result.duration_s, result.output
        )

    @activity.defn
    async def attribute(self, params: AttributeInput) -> AttributionOut:
        remote = await self._remote(params.target)
        mirror = await self.cache.sync(remote)
        head = f"refs/remotes/origin/{params.branch}"
        attribution = await attribute_range(mirror, params.base_sha, head)
        return AttributionOut(
            table=render_table(attribution, max_rows=params.max_rows),
            total_added=attribution.total_added,
            total_removed=attribution.total_removed,
            hunks=len(attribution.hunks),
        )

    # -- forge -----------------------------------------------------------------------------------

    @activity.defn(name="forge_post_comment")
    async def post_comment(self, params: PostInput) -> Comment:
        with github_errors():
            return await self.forge.post_comment(params.target, params.body)

    @activity.defn(name="forge_edit_comment")
    async def edit_comment(self, params: EditInput) -> None:
        with github_errors():
            await self.forge.edit_comment(params.target, params.comment_id, params.body)

    @activity.defn(name="forge_react")
    async def react(self, params: ReactInput) -> None:
        with github_errors():
            await self.forge.react(params.target, params.content)

    @activity.defn(name="forge_reply")
    async def reply(self, params: PostInput) -> None:
        with github_errors():
            await self.forge.reply(params.target, params.body)

    @activity.defn(name="forge_follow_up")
    async def follow_up(self, params: ContextInput) -> FollowUp:
        with github_errors():
            return await self.forge.follow_up(params.target)

    @activity.defn(name="forge_open_pull")
    async def open_pull(self, params: PullInput) -> PullRequest:
        with github_errors():
            return await self.forge.open_pull(
                params.target,
                head=params.head,
                base=params.base,
                title=params.title,
                body=params.body,
                draft=params.draft,
            )

    # -- helpers ---------------------------------------------------------------------------------

    def _workdir(self, run_id: str, name: str) -> Path:
        attempt = activity.info().attempt
        return self.work_root / run_id / f"{name}-a{attempt}"

    @contextlib.asynccontextmanager
    async def _worktree(self, remote: Remote, branch: str, path: Path) -> AsyncIterator[Worktree]:
        tree = await open_worktree(self.cache, remote, branch, path)
        try:
            yield tree
        finally:
            with contextlib.suppress(GitError):  # a failed tidy-up fails no work
                await remove_worktree(self.cache, tree)
            shutil.rmtree(path, ignore_errors=True)

    def activities(self) -> list[object]:
        return [
            self.run_context,
            self.prepare_branch,
            self.plan,
            self.warm_cache,
            self.run_agent,
            self.run_tests,
            self.attribute,
            self.post_comment,
            self.edit_comment,
            self.react,
            self.reply,
            self.follow_up,
            self.open_pull,
        ]


def _round(
    params: TestInput,
    head: str,
    exit_code: int | None,
    timed_out: bool,
    duration: float,
    output: str,
) -> TestRound:
    return TestRound(
        round=params.round,
        command=params.command,
        passed=exit_code == 0 and not timed_out,
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=round(duration, 2),
        output_tail=output[-TEST_OUTPUT_TAIL:],
        head=head,
    )


async def _heartbeat_every(seconds: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(seconds)

"""The client side of the workflows, through typed references only (never a string name):
starting a command, handing a command to its issue's queue, querying a run, and the run's
memory over its updates.

Used outside workflows: the webhook starter, the temporal activities and the agent activity get
these injected by app/ (activities may not import workflows).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from bot.core.memory import Memory, MemoryWrite, Note, check_write
from bot.core.results import AgentProgress, ModelUsage
from bot.errors import MemoryRefused
from bot.workflows.command import CommandWorkflow
from bot.workflows.issue import IssueWorkflow
from bot.workflows.issue_queue import IssueQueueState
from bot.workflows.run import RunWorkflow
from bot.workflows.shared import CommandRequest, command_workflow_id, issue_workflow_id

log = logging.getLogger(__name__)

MEMORY_RPC_TIMEOUT = timedelta(seconds=30)


async def start_command(client: Client, task_queue: str, request: CommandRequest) -> str:
    """Start the command workflow of a comment; return its id. A redelivery of a comment already
    handled (or being handled) starts nothing."""
    workflow_id = command_workflow_id(request.repo.id, request.comment_kind, request.comment_id)
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            CommandWorkflow.run,
            request,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    return workflow_id


class RunClient:
    """Issues and runs as the workflows' activities reach them (activities/temporal.py's
    RunControls): signal-with-start and queries by typed reference."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def enqueue(self, request: dict[str, Any], task_queue: str) -> None:
        """Signal the command to its issue's workflow, starting that workflow when none runs
        (one atomic signal-with-start: no command is lost between an ending workflow and a new
        one)."""
        command = CommandRequest.model_validate(request)
        await self.client.start_workflow(
            IssueWorkflow.run,
            IssueQueueState(),
            id=issue_workflow_id(command.repo.id, command.issue_number),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            # start_signal takes a name: the typed reference's, as @workflow.signal registers it.
            start_signal=IssueWorkflow.enqueue.__name__,
            start_signal_args=[command],
        )

    async def link(self, workflow_id: str) -> str:
        handle = self.client.get_workflow_handle_for(RunWorkflow.run, workflow_id)
        try:
            return await handle.query(RunWorkflow.link)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return ""
            raise


class WorkflowMemory:
    """The run's shared memory, held by the run workflow and reached through its updates.

    Each turn's progress report answers with the memory; the next read uses that answer
    instead of another round trip. The memory is a convenience to the agents, so no failure
    to reach it ends an agent (let alone the run): a failed write is a refusal the agent reads
    as a tool error, a failed read or report leaves the agent with the memory it last saw.
    """

    def __init__(self, client: Client, workflow_id: str) -> None:
        self._handle = client.get_workflow_handle_for(RunWorkflow.run, workflow_id)
        self._latest: Memory | None = None
        self._known = Memory()  # the last memory an update answered with

    async def report_turn(self, progress: AgentProgress) -> None:
        try:
            self._latest = await self._handle.execute_update(
                RunWorkflow.agent_turn, progress, rpc_timeout=MEMORY_RPC_TIMEOUT
            )
        except Exception:  # progress is for the checklist; the work goes on without it
            log.warning("reporting a turn to %s failed", self._handle.id, exc_info=True)

    async def report_usage(self, report: ModelUsage) -> None:
        """A planner's or cache warmer's usage so far (best effort, like a turn's report)."""
        try:
            await self._handle.execute_update(
                RunWorkflow.model_usage, report, rpc_timeout=MEMORY_RPC_TIMEOUT
            )
        except Exception:
            log.warning("reporting usage to %s failed", self._handle.id, exc_info=True)

    async def read(self) -> Memory:
        latest, self._latest = self._latest, None
        if latest is None:
            try:
                latest = await self._handle.execute_update(
                    RunWorkflow.read_memory, rpc_timeout=MEMORY_RPC_TIMEOUT
                )
            except Exception:
                log.warning("reading the memory of %s failed", self._handle.id, exc_info=True)
                return self._known
        self._known = latest
        return latest

    async def write(self, write: MemoryWrite) -> Note:
        """Store `write`, or raise MemoryRefused whatever went wrong."""
        check_write(write)  # an oversized update would fail the workflow's task, not the update
        try:
            return await self._handle.execute_update(
                RunWorkflow.write_memory, write, rpc_timeout=MEMORY_RPC_TIMEOUT
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise MemoryRefused(str(getattr(cause, "message", None) or cause or exc)) from exc
        except Exception as exc:
            log.warning("writing to the memory of %s failed", self._handle.id, exc_info=True)
            raise MemoryRefused(
                "The shared memory could not be reached; nothing was saved."
            ) from exc

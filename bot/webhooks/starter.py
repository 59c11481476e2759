"""The webhook side's only way to act: start the command workflow of a comment."""

from __future__ import annotations

from temporalio.client import Client

from bot.workflows.client import start_command
from bot.workflows.shared import CommandRequest


class TemporalStarter:
    """A WorkflowStarter (webhooks/core.py) over a Temporal client."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def start_command(self, request: CommandRequest) -> str:
        return await start_command(self.client, self.task_queue, request)

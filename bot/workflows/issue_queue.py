"""The commands of one issue (or pull request) in the order they were posted, and what each one
asks of the run going there: the pure rules of workflows/issue.py.

Comment ids grow with time on GitHub, so a command's comment id says when it was posted,
whatever order the webhooks arrive in. The rules:
- a task waits while a run is going; the smallest queued id starts next;
- `cancel` (posted as comment C) stops the running run when that run was posted before C; when
  none is, the next run posted before C never starts (it arrived late);
- `cancel all` (C) also drops every task posted before C, queued now or arriving later;
- `approve` goes to the running run;
- a command seen before (a redelivery, a retried enqueue) is dropped.

Pure: no Temporal here, so every rule is tested without a server. Each method answers with the
actions the workflow carries out, in order.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from pydantic import BaseModel, Field

from bot.core.commands import CommandKind
from bot.render import messages
from bot.workflows.shared import CommandRequest

# Comment ids remembered for dropping repeats (a repeat comes within minutes of the first).
SEEN_KEPT = 500
# Runs per workflow history: then the issue workflow continues as new, carrying this state.
RUNS_PER_HISTORY = 50


class Cancel(BaseModel):
    """A cancel not yet spent: it stops runs posted before `before`."""

    before: int
    by: str


class IssueQueueState(BaseModel):
    """What the queue carries over a continue-as-new."""

    queued: list[CommandRequest] = Field(default_factory=list)
    seen: list[int] = Field(default_factory=list)
    cancel: Cancel | None = None  # `/orchestrate cancel` waiting for a late run
    cancel_all: Cancel | None = None  # `/orchestrate cancel all`: tasks before it never run
    runs_per_history: int = RUNS_PER_HISTORY


@dataclass(frozen=True)
class Answer:
    """Reply to `request` (under its purpose, so a retry does not answer twice)."""

    request: CommandRequest
    purpose: str
    body: str


@dataclass(frozen=True)
class Queued:
    """Tell `request` it waits (`position` in the queue) and link the running run."""

    request: CommandRequest
    position: int


@dataclass(frozen=True)
class Forward:
    """Signal the run of command `run` (cancel or approve), on behalf of `by`."""

    run: int
    kind: CommandKind
    by: str


Action = Answer | Queued | Forward


class IssueQueue:
    def __init__(self, state: IssueQueueState | None = None) -> None:
        self.state = state or IssueQueueState()
        self.running: CommandRequest | None = None

    @property
    def idle(self) -> bool:
        return self.running is None and not self.state.queued

    def receive(self, request: CommandRequest) -> list[Action]:
        """A command arrived; what it asks for now."""
        if request.comment_id in self.state.seen:
            return []
        self._remember(request.comment_id)
        kind = request.command.kind
        if kind is CommandKind.RUN:
            return self._task(request)
        if kind is CommandKind.CANCEL:
            return self._cancel(request)
        if kind is CommandKind.CANCEL_ALL:
            return self._cancel_all(request)
        if kind is CommandKind.APPROVE:
            return self._approve(request)
        return []

    def start_next(self) -> tuple[CommandRequest | None, list[Action]]:
        """Nothing runs: the earliest queued task becomes the running one (None when none is
        left), after the tasks a waiting cancel stops."""
        answers: list[Action] = []
        while self.state.queued:
            request = self.state.queued.pop(0)
            cancel = self.state.cancel
            if cancel is not None and request.comment_id < cancel.before:
                self.state.cancel = None  # one cancel stops one run
                answers.append(_cancelled(request, cancel.by))
                continue
            self.running = request
            return request, answers
        return None, answers

    def finished(self) -> None:
        self.running = None

    def _task(self, request: CommandRequest) -> list[Action]:
        cancel_all = self.state.cancel_all
        if cancel_all is not None and request.comment_id < cancel_all.before:
            return [_cancelled(request, cancel_all.by)]
        ids = [queued.comment_id for queued in self.state.queued]
        place = bisect.bisect(ids, request.comment_id)
        self.state.queued.insert(place, request)
        if self.running is None:
            return []
        return [Queued(request, place + 1)]

    def _cancel(self, request: CommandRequest) -> list[Action]:
        by, posted = request.commenter, request.comment_id
        if self.running is not None and self.running.comment_id < posted:
            return [Forward(self.running.comment_id, CommandKind.CANCEL, by)]
        if self.state.queued and self.state.queued[0].comment_id < posted:
            return [_cancelled(self.state.queued.pop(0), by)]
        if self.state.cancel is None or self.state.cancel.before < posted:
            self.state.cancel = Cancel(before=posted, by=by)
        return [Answer(request, "nothing-cancelled", messages.nothing_to_cancel(by))]

    def _cancel_all(self, request: CommandRequest) -> list[Action]:
        by, posted = request.commenter, request.comment_id
        actions: list[Action] = []
        if self.running is not None and self.running.comment_id < posted:
            actions.append(Forward(self.running.comment_id, CommandKind.CANCEL, by))
        dropped = [queued for queued in self.state.queued if queued.comment_id < posted]
        self.state.queued = [q for q in self.state.queued if q.comment_id >= posted]
        actions += [_cancelled(queued, by) for queued in dropped]
        if self.state.cancel_all is None or self.state.cancel_all.before < posted:
            self.state.cancel_all = Cancel(before=posted, by=by)
        if not actions:
            actions.append(Answer(request, "nothing-cancelled", messages.nothing_to_cancel(by)))
        return actions

    def _approve(self, request: CommandRequest) -> list[Action]:
        if self.running is not None:
            return [Forward(self.running.comment_id, CommandKind.APPROVE, request.commenter)]
        text = messages.no_run_to_signal(request.commenter, "approve")
        return [Answer(request, "no-run", text)]

    def _remember(self, comment_id: int) -> None:
        self.state.seen = [*self.state.seen, comment_id][-SEEN_KEPT:]


def _cancelled(request: CommandRequest, by: str) -> Answer:
    return Answer(request, "cancelled", messages.cancelled_before_start(request.commenter, by))

"""The issue queue's rules without a server: posting order (comment ids) decides, whatever order
the commands arrive in; cancel stops only what was posted before it; cancel all also clears the
queue; repeats are dropped."""

from __future__ import annotations

from bot.core.commands import Command, CommandKind
from bot.core.targets import CommentKind, RepoRef
from bot.render import messages
from bot.workflows.issue_queue import (
    SEEN_KEPT,
    Answer,
    Forward,
    IssueQueue,
    IssueQueueState,
    Queued,
)
from bot.workflows.shared import CommandRequest


def command(
    comment_id: int, kind: CommandKind = CommandKind.RUN, by: str = "alice"
) -> CommandRequest:
    task = f"task {comment_id}" if kind is CommandKind.RUN else ""
    return CommandRequest(
        delivery_id=f"d{comment_id}",
        installation_id=1,
        repo=RepoRef(id=2, owner="o", name="r"),
        issue_number=7,
        is_pull_request=False,
        issue_title="t",
        issue_body="b",
        comment_id=comment_id,
        comment_kind=CommentKind.ISSUE,
        commenter=by,
        command=Command(kind=kind, task=task, task_chars=len(task)),
        comment_url=f"https://github.com/o/r/issues/7#issuecomment-{comment_id}",
    )


def cancelled(request: CommandRequest, by: str) -> Answer:
    text = messages.cancelled_before_start(request.commenter, by)
    return Answer(request, "cancelled", text)


def started(queue: IssueQueue) -> int | None:
    """Start the next run (as the workflow does when nothing runs); its comment id."""
    request, dropped = queue.start_next()
    assert dropped == []
    return None if request is None else request.comment_id


def test_tasks_run_one_at_a_time_in_posting_order() -> None:
    """A task while one runs is queued with its place; the earliest posted starts next, even
    when it arrived last."""
    queue = IssueQueue()
    assert queue.receive(command(10)) == []
    assert started(queue) == 10
    late, early = command(30), command(20)
    assert queue.receive(late) == [Queued(late, 1)]
    assert queue.receive(early) == [Queued(early, 1)]  # posted before 30: ahead of it
    queue.finished()
    assert started(queue) == 20
    queue.finished()
    assert started(queue) == 30
    queue.finished()
    assert started(queue) is None and queue.idle


def test_a_repeated_command_is_dropped() -> None:
    """A redelivery or a retried enqueue of the same comment does nothing the second time."""
    queue = IssueQueue()
    queue.receive(command(10))
    assert [queue.receive(command(10)) for _ in range(4)] == [[]] * 4
    assert [r.comment_id for r in queue.state.queued] == [10]
    cancel = command(11, CommandKind.CANCEL)
    assert queue.receive(cancel) != [] and queue.receive(cancel) == []


def test_cancel_stops_the_running_run_only_when_posted_after_it() -> None:
    """Cancel 20 stops run 10; a cancel posted before the running run (an earlier cancel that
    arrived late) does not touch it; queued tasks stay."""
    queue = IssueQueue()
    queue.receive(command(10))
    started(queue)
    queue.receive(command(30))
    assert queue.receive(command(20, CommandKind.CANCEL, by="bob")) == [
        Forward(10, CommandKind.CANCEL, "bob")
    ]
    queue.finished()
    assert started(queue) == 30  # the queued task stays
    stale = command(25, CommandKind.CANCEL, by="bob")
    assert queue.receive(stale) == [
        Answer(stale, "nothing-cancelled", messages.nothing_to_cancel("bob"))
    ]


def test_cancel_and_a_newer_task_arriving_together_keep_the_newer_task() -> None:
    """The race of the issue: `cancel` (20) then a task (30) posted together. Whichever webhook
    arrives first, the task posted after the cancel runs and is never cancelled."""
    for order in ((20, 30), (30, 20)):
        queue = IssueQueue()
        for comment_id in order:
            kind = CommandKind.CANCEL if comment_id == 20 else CommandKind.RUN
            actions = queue.receive(command(comment_id, kind))
            assert not any(isinstance(action, Forward) for action in actions)
            if queue.running is None and queue.state.queued:
                assert started(queue) == 30


def test_a_cancel_with_nothing_running_stops_the_next_task_posted_before_it() -> None:
    """Cancel 20 with nothing going: a task posted before it that arrives late never starts
    (one task: the cancel is spent), a later one runs."""
    queue = IssueQueue()
    cancel = command(20, CommandKind.CANCEL, by="bob")
    assert queue.receive(cancel) == [
        Answer(cancel, "nothing-cancelled", messages.nothing_to_cancel("bob"))
    ]
    late, other_late, after = command(15), command(16), command(25)
    queue.receive(late)
    request, dropped = queue.start_next()
    assert dropped == [cancelled(late, "bob")] and request is None
    queue.receive(other_late)
    assert started(queue) == 16  # the cancel stopped one run
    queue.receive(after)
    queue.finished()
    assert started(queue) == 25


def test_a_cancel_while_a_newer_run_goes_stops_the_next_earlier_queued_one() -> None:
    """Run 30 started before task 15 arrived; cancel 20 leaves 30 alone and drops 15."""
    queue = IssueQueue()
    queue.receive(command(30))
    started(queue)
    early = command(15)
    queue.receive(early)
    assert queue.receive(command(20, CommandKind.CANCEL, by="bob")) == [cancelled(early, "bob")]
    assert queue.state.queued == [] and queue.running is not None


def test_cancel_all_stops_the_run_and_drops_every_earlier_task_even_late_ones() -> None:
    """Cancel all (40): the running run (10) is stopped, queued 20 and 30 are answered and
    dropped, 50 stays, and 35 arriving late is dropped on arrival."""
    queue = IssueQueue()
    queue.receive(command(10))
    started(queue)
    twenty, thirty, fifty = command(20), command(30), command(50)
    for request in (twenty, thirty, fifty):
        queue.receive(request)
    actions = queue.receive(command(40, CommandKind.CANCEL_ALL, by="bob"))
    assert actions == [
        Forward(10, CommandKind.CANCEL, "bob"),
        cancelled(twenty, "bob"),
        cancelled(thirty, "bob"),
    ]
    assert [r.comment_id for r in queue.state.queued] == [50]
    late = command(35)
    assert queue.receive(late) == [cancelled(late, "bob")]
    queue.finished()
    assert started(queue) == 50


def test_cancel_all_with_nothing_to_stop_says_so() -> None:
    """Nothing running or queued before it: one answer, and later-arriving earlier tasks are
    still dropped."""
    queue = IssueQueue()
    cancel_all = command(40, CommandKind.CANCEL_ALL)
    assert queue.receive(cancel_all) == [
        Answer(cancel_all, "nothing-cancelled", messages.nothing_to_cancel("alice"))
    ]
    late = command(39)
    assert queue.receive(late) == [cancelled(late, "alice")]


def test_approve_goes_to_the_running_run_or_is_answered() -> None:
    """Approve reaches the running run; with none it gets the no-run answer."""
    queue = IssueQueue()
    lonely = command(5, CommandKind.APPROVE, by="bob")
    assert queue.receive(lonely) == [
        Answer(lonely, "no-run", messages.no_run_to_signal("bob", "approve"))
    ]
    queue.receive(command(10))
    started(queue)
    assert queue.receive(command(11, CommandKind.APPROVE, by="bob")) == [
        Forward(10, CommandKind.APPROVE, "bob")
    ]


def test_state_carries_over_a_continue_as_new() -> None:
    """The queue, the seen ids and the cancels in memory survive a new history; seen ids are
    bounded."""
    queue = IssueQueue()
    queue.receive(command(40, CommandKind.CANCEL_ALL))
    queue.receive(command(50))
    queue.receive(command(60))
    carried = IssueQueueState.model_validate(queue.state.model_dump(mode="json"))
    again = IssueQueue(carried)
    assert again.receive(command(50)) == []  # seen before the new history
    late = command(30)
    assert again.receive(late) == [cancelled(late, "alice")]
    assert started(again) == 50
    for comment_id in range(1000, 1000 + SEEN_KEPT + 10):
        again.receive(command(comment_id, CommandKind.APPROVE))
    assert len(again.state.seen) == SEEN_KEPT

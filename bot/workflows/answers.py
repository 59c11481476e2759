"""What workflows post, each under a key the workflow owns (a retried activity finds the comment
an earlier attempt created instead of posting another), and reactions, which are only an
acknowledgement: one that cannot be added never ends a command or a run. Workflow code."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError, FailureError
from temporalio.exceptions import TimeoutError as TemporalTimeout

with workflow.unsafe.imports_passed_through():
    from bot.activities.github import ForgeActivities
    from bot.activities.inputs import PostInput, ReactInput
    from bot.core.targets import CommentKey, Target
    from bot.github.models import Comment, Reaction
    from bot.workflows import policies

# How far before the call the search for an earlier attempt's comment looks: the comment was
# posted after the call was scheduled; the margin covers clocks that disagree.
SEARCH_MARGIN = timedelta(minutes=5)


def key(kind: str, owner: str | None = None) -> CommentKey:
    """The key of a comment of `kind` owned by workflow `owner` (default: this workflow)."""
    since = workflow.now() - SEARCH_MARGIN
    return CommentKey(run=owner or workflow.info().workflow_id, kind=kind, since=since.isoformat())


async def post(target: Target, body: str, kind: str) -> Comment:
    """A comment in the conversation, posted once under this workflow's key of `kind`."""
    post_input = PostInput(target=target, body=body, key=key(kind))
    return await policies.call(policies.GITHUB, ForgeActivities.post_comment, post_input)


async def reply(target: Target, body: str, kind: str, owner: str | None = None) -> None:
    """An answer where the command was written, given once under `owner`'s key of `kind`."""
    reply_input = PostInput(target=target, body=body, key=key(kind, owner))
    await policies.call(policies.GITHUB, ForgeActivities.reply, reply_input)


async def react(target: Target, content: Reaction) -> None:
    """A reaction on the command. GitHub answers a repeated one with the one it has, so a retry
    after a lost answer is harmless; a reaction that fails for good is logged and let go."""
    try:
        react_input = ReactInput(target=target, content=content)
        await policies.call(policies.COSMETIC, ForgeActivities.react, react_input)
    except ActivityError as exc:
        workflow.logger.warning("the %s reaction could not be added: %s", content, exc.cause)


def reason(exc: BaseException) -> str:
    """What went wrong, for a person: the error an activity raised (after its retries), not
    Temporal's wrapper around it ("Activity task failed")."""
    while isinstance(exc, ActivityError | ChildWorkflowError) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, TemporalTimeout) and exc.cause is not None:  # the retries ran out
        return f"gave up retrying: {reason(exc.cause)}"
    if isinstance(exc, FailureError):
        return exc.message or type(exc).__name__
    return str(exc) or type(exc).__name__

"""Every short message the app posts: help, refusals and replies (the run's state line is in
render/states.py, its reports in render/plan_comment.py and render/pr_body.py)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from bot.core.commands import MAX_TASK_CHARS
from bot.core.results import TestRound
from bot.render.markdown import app_url, fenced, inline, login, shorten

MAX_REASON_CHARS = 3000
_SHA = re.compile(r"[0-9a-f]{7,64}")

HELP = """\
**orchestrate** plans a change, runs an *implement*, a *test* and a *docs* agent in parallel on \
one shared branch, reconciles their work and opens one pull request that says which agent wrote \
what.

| command | what it does |
|---|---|
| `/orchestrate <task>` | start a run for this task (the rest of the comment is part of the task) |
| `/orchestrate` | start a run whose task is this issue's title and body |
| `/orchestrate approve` | let a run that waits for approval go on |
| `/orchestrate cancel` | stop the run going on this issue (one posted before this command); \
nothing is pushed after that |
| `/orchestrate cancel all` | stop it and drop every run queued before this command |
| `/orchestrate help` | this message |

A task posted while a run is going waits in a queue and starts after it; commands run in the \
order they were posted. Only people with write, maintain or admin permission on the repository \
can run commands. Settings live in `.github/orchestrate.yml` on the default branch."""


def help_text() -> str:
    return HELP


def task_too_long(chars: int) -> str:
    return (
        f"This task is {chars:,} characters long; the limit is {MAX_TASK_CHARS:,}. "
        "Shorten it, or put the details in the issue and write `/orchestrate` alone."
    )


def run_queued(commenter: str, position: int, link: str) -> str:
    """`link` is the running run's status comment, or its command when it has none yet."""
    ahead = "it" if position == 1 else f"it and {position - 1} more queued before yours"
    where = f": {app_url(link)}" if link else ""
    return (
        f"@{login(commenter)} a run is already going on this issue{where}. "
        f"Yours is queued and starts after {ahead}; "
        "`/orchestrate cancel all` drops it."
    )


def cancelled_before_start(commenter: str, by: str) -> str:
    return (
        f"@{login(commenter)} this run was cancelled by {inline('@' + login(by), 60)} "
        "before it started; nothing was done."
    )


def nothing_to_cancel(commenter: str) -> str:
    return (
        f"@{login(commenter)} no run posted before this command is going on this issue, "
        "so nothing was cancelled."
    )


def no_run_to_signal(commenter: str, verb: str) -> str:
    return f"@{login(commenter)} there is no run waiting on this issue to {inline(verb, 20)}."


def approval_expired(hours: float) -> str:
    return (
        f"Nobody wrote `/orchestrate approve` within {hours:g} hours, so this run stopped "
        "before any agent started. Write `/orchestrate` again to start a new one."
    )


def run_failed(reason: str) -> str:
    """The reason is quoted in a fence: it may be an error message with any characters."""
    return "The run failed:\n\n" + fenced(shorten(reason, MAX_REASON_CHARS)) + "\n"


def nothing_to_change() -> str:
    return (
        "The agents finished without changing anything, so there is no pull request. "
        "Write `/orchestrate` with more detail to try again."
    )


def follow_up_reply(
    *, commits: Sequence[str], rounds: Sequence[TestRound], pr_url: str | None = None
) -> str:
    """The answer in a review thread after a follow-up run pushed its commits."""
    if not commits:
        text = "Done: no change was needed, nothing was pushed."
    else:
        shas = ", ".join(_short_sha(sha) for sha in commits[:10])
        more = f" and {len(commits) - 10} more" if len(commits) > 10 else ""
        text = f"Pushed {len(commits)} commit{'s' if len(commits) != 1 else ''}: {shas}{more}."
    if rounds:
        last = rounds[-1]
        verdict = "pass" if last.passed else "still fail"
        text += f" The tests {verdict} (round {last.round})."
    if pr_url:
        text += f" The description's tables are refreshed: {app_url(pr_url)}"
    return text


def follow_up_not_ours() -> str:
    return "I only follow up on pull requests that I opened."


def follow_up_closed() -> str:
    return "This pull request is closed; reopen it to follow up."


def no_follow_up_locally() -> str:
    return "A local run has no pull request to follow up on."


def _short_sha(sha: str) -> str:
    return sha[:7] if _SHA.fullmatch(sha) else "?"


def setup_page(app_name: str = "orchestrate") -> str:
    name = html.escape(app_name)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title></head><body>"
        f"<h1>{name} is running</h1>"
        "<p>Webhooks are received at <code>POST /webhooks</code>. Register the app from "
        "<code>app.yml</code> (see README.md), install it on a repository, then write "
        "<code>/orchestrate help</code> in an issue.</p></body></html>"
    )

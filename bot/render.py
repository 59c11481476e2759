"""Every short message the app posts on GitHub (run reports live in `bot/report.py`)."""

from __future__ import annotations

import html

from bot.core.commands import MAX_TASK_CHARS
from bot.report_md import app_url, inline, login

HELP = """\
**orchestrate** plans a change, runs an *implement*, a *test* and a *docs* agent in parallel on \
one shared branch, reconciles their work and opens one pull request that says which agent wrote \
what.

| command | what it does |
|---|---|
| `/orchestrate <task>` | start a run for this task (the rest of the comment is part of the task) |
| `/orchestrate` | start a run whose task is this issue's title and body |
| `/orchestrate approve` | let a run that waits for approval go on |
| `/orchestrate cancel` | stop the run on this issue; nothing is pushed after that |
| `/orchestrate help` | this message |

Only people with write, maintain or admin permission on the repository can run commands. \
Settings live in `.github/orchestrate.yml` on the default branch."""


def help_text() -> str:
    return HELP


def task_too_long(chars: int) -> str:
    return (
        f"This task is {chars:,} characters long; the limit is {MAX_TASK_CHARS:,}. "
        "Shorten it, or put the details in the issue and write `/orchestrate` alone."
    )


def run_already_going(commenter: str, link: str) -> str:
    """`link` is the run's status comment, or its id when it has none yet."""
    return (
        f"@{login(commenter)} a run is already going on this issue: {app_url(link)}. "
        "Wait for it to finish, or write `/orchestrate cancel` first."
    )


def no_run_to_signal(commenter: str, verb: str) -> str:
    return f"@{login(commenter)} there is no run waiting on this issue to {inline(verb, 20)}."


def setup_page(app_name: str = "orchestrate") -> str:
    name = html.escape(app_name)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title></head><body>"
        f"<h1>{name} is running</h1>"
        "<p>Webhooks are received at <code>POST /webhooks</code>. Register the app from "
        "<code>app.yml</code> (see README.md), install it on a repository, then write "
        "<code>/orchestrate help</code> in an issue.</p></body></html>"
    )

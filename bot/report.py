"""Everything a run posts: the plan comment, the pull request body and the short run messages.

Pure and deterministic (no clock): the workflow calls these with what it recorded. The plan
comment lives in `bot/report_plan.py`, the PR body in `bot/report_pr.py` (its cost table in
`bot/report_cost.py`), the escaping of untrusted text in `bot/report_md.py`; this module is
the one name the rest of the app imports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot import commit_text
from bot.core.plan import Plan
from bot.core.results import TestRound
from bot.report_cost import run_cost
from bot.report_md import app_url, fenced, login, shorten
from bot.report_plan import PLAN_MARKER, AgentLine, plan_comment
from bot.report_pr import PR_MARKER, pr_body

__all__ = [
    "PLAN_MARKER",
    "PR_MARKER",
    "AgentLine",
    "approval_expired",
    "approval_expired_state",
    "cancelled_state",
    "draft_reason",
    "follow_up_reply",
    "plan_comment",
    "pr_body",
    "pr_title",
    "run_cost",
    "run_failed",
]

MAX_REASON_CHARS = 3000
MAX_TITLE_CHARS = commit_text.TITLE_CHARS
_SHA = re.compile(r"[0-9a-f]{7,64}")


def cancelled_state(by: str) -> str:
    return f"cancelled by @{login(by)}"


def approval_expired_state(hours: float) -> str:
    return f"stopped: not approved within {hours:g} hours"


def approval_expired(hours: float) -> str:
    return (
        f"Nobody wrote `/orchestrate approve` within {hours:g} hours, so this run stopped "
        "before any agent started. Write `/orchestrate` again to start a new one."
    )


def run_failed(reason: str) -> str:
    """The reason is quoted in a fence: it may be an error message with any characters."""
    return "The run failed:\n\n" + fenced(shorten(reason, MAX_REASON_CHARS)) + "\n"


def draft_reason(rounds: Sequence[TestRound], max_rounds: int, budget_note: str = "") -> str | None:
    """Why the PR is a draft (the tests still fail after the last round), or None."""
    if not rounds or rounds[-1].passed:
        return None
    reason = f"the tests still fail after round {rounds[-1].round} of {max_rounds}."
    return f"{reason} {budget_note}" if budget_note else reason


def pr_title(plan: Plan, issue_title: str) -> str:
    """The issue's title, else the first line of the plan's summary, as plain words: a squash
    merge makes the title a commit subject, so it is built like one (see bot/commit_text.py)."""
    return commit_text.title(issue_title, plan.summary)


def _short_sha(sha: str) -> str:
    return sha[:7] if _SHA.fullmatch(sha) else "?"


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

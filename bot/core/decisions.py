"""Pure decisions of a run: branch names, who fixes a failure, budgets, trimming output."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bot.core.plan import Role
from bot.core.results import AgentResult
from bot.core.usage import Usage
from bot.errors import GitError

# The app writes only branches under its own prefix (DESIGN.md, security model).
BRANCH_PREFIX = "orchestrate/"
# Test output sent back to an agent in a fix round (head and tail kept).
MAX_FEEDBACK_CHARS = 6000

# Failures that are the test code's own fault: it does not import, parse or collect.
_BROKEN_TEST_PATTERNS = (
    re.compile(r"^ERROR collecting (\S*test\S*)", re.MULTILINE),
    re.compile(r"fixture '[^']+' not found"),
    re.compile(r'File "(\S*test\S*\.py)", line \d+\n(?:.*\n){0,3}\s*SyntaxError', re.MULTILINE),
)


def slugify(text: str, max_chars: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_chars:
            break
        slug = candidate
    return slug or "task"


def scratch_branch(issue_number: int, task: str) -> str:
    return f"{BRANCH_PREFIX}{issue_number}-{slugify(task)}"


def agent_branch(branch: str, role: str, round_number: int, conflict: int = 0) -> str:
    """Where an agent's commit goes before it lands on `branch`: a branch of its own, so a
    push never contends and nothing is lost before the landing; each conflict resolution is
    a new one (never a force-push)."""
    name = f"{branch}--{role}-r{round_number}"
    return f"{name}-c{conflict}" if conflict else name


def task_key(run_id: str, role: str, round_number: int) -> str:
    """The `Orchestrate-Task` trailer of an agent's commit: which run, agent and round made it,
    so a retried activity finds its own earlier commit instead of doing the work again."""
    return f"{run_id}/{role}/r{round_number}"


def is_own_branch(branch: str) -> bool:
    """A branch the app may write: under its prefix, and a plain name there."""
    return (
        branch.startswith(BRANCH_PREFIX)
        and ".." not in branch
        and not branch.endswith((".lock", "/"))
    )


def require_own_branch(branch: str) -> None:
    if not is_own_branch(branch):
        raise GitError(f"refusing to write branch {branch!r}: only {BRANCH_PREFIX}* is allowed")


def task_text(
    command_task: str,
    issue_title: str,
    issue_body: str,
    *,
    review_path: str | None = None,
    review_line: int | None = None,
    review_hunk: str | None = None,
) -> str:
    """What the planner is asked to do: the command's text (or the issue when it has none),
    plus, for a review-thread follow-up, the file, line and diff hunk the thread is about."""
    task = command_task or f"{issue_title}\n\n{issue_body}".strip()
    if review_path:
        where = f"{review_path}, line {review_line}" if review_line else review_path
        task += f"\n\nThis is a review comment on {where} of the pull request:"
        if review_hunk:
            task += f"\n```diff\n{review_hunk}\n```"
    return task


def choose_fixer(test_output: str, roles: Iterable[Role]) -> Role:
    """Who gets a failing test run: the implementer, unless the tests themselves are broken
    (they do not collect, import or parse) and the plan has a test agent."""
    available = set(roles)
    if Role.TEST in available and any(p.search(test_output) for p in _BROKEN_TEST_PATTERNS):
        return Role.TEST
    if Role.IMPLEMENT in available:
        return Role.IMPLEMENT
    return next(iter(sorted(available, key=list(Role).index)), Role.IMPLEMENT)


def trim_output(output: str, limit: int = MAX_FEEDBACK_CHARS) -> str:
    """Head and tail of a long test output (failures are summarised at the end by most runners)."""
    if len(output) <= limit:
        return output
    head = limit // 4
    tail = limit - head
    cut = len(output) - head - tail
    return f"{output[:head]}\n… ({cut} characters cut) …\n{output[-tail:]}"


def total_usage(results: Iterable[AgentResult], *extra: Usage) -> Usage:
    total = Usage()
    for result in results:
        total = total + result.usage
    for usage in extra:
        total = total + usage
    return total


def run_budget_reached(
    *,
    tokens_used: int,
    dollars_used: float | None,
    elapsed_minutes: float,
    tokens: int,
    dollars: float,
    minutes: float,
) -> str | None:
    """Which run-level budget is reached, if any (checked before starting more agent work)."""
    if tokens_used >= tokens:
        return f"tokens ({tokens_used:,} of {tokens:,})"
    if dollars_used is not None and dollars_used >= dollars:
        return f"dollars (${dollars_used:.2f} of ${dollars:.2f})"
    if elapsed_minutes >= minutes:
        return f"time ({elapsed_minutes:.0f} of {minutes:.0f} minutes)"
    return None

"""The run's state line, as the status comment, the `/orchestrate` link and `bot run` show it."""

from __future__ import annotations

from bot.render.markdown import login

PLANNING = "planning"
WAITING_FOR_APPROVAL = "waiting for approval"
RUNNING = "running"
PREPARING_ENVIRONMENT = "preparing the environment"
ENVIRONMENT_FAILED = "failed: the repository's environment could not be built"
OPENING_PULL = "opening the pull request"
_DONE = "done"


def testing(round_number: int, max_rounds: int) -> str:
    return f"testing (round {round_number} of {max_rounds})"


def fixing(round_number: int, role: str) -> str:
    return f"fixing (round {round_number}): {role}"


def done(*, draft: bool) -> str:
    return f"{_DONE} (draft: tests still fail)" if draft else _DONE


def succeeded(state: str) -> bool:
    """Whether a run in `state` finished with its pull request (a draft one included)."""
    return state.startswith(_DONE)


def failed(reason: str) -> str:
    return f"failed: {reason}"


def refused(reason: str) -> str:
    return f"refused: {reason}"


def cancelled_state(by: str) -> str:
    return f"cancelled by @{login(by)}"


def approval_expired_state(hours: float) -> str:
    return f"stopped: not approved within {hours:g} hours"

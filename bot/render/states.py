"""The run's state line, as the status comment, the `/orchestrate` link and `bot run` show it."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render.markdown import login

PLANNING = "planning"
WAITING_FOR_APPROVAL = "waiting for approval"
RUNNING = "running"
PREPARING_ENVIRONMENT = "preparing the environment"
ENVIRONMENT_FAILED = "failed: the repository's environment could not be built"
OPENING_PULL = "opening the pull request"
_DONE = "done"
NOTHING_TO_CHANGE = f"{_DONE}: nothing to change"


def testing(round_number: int, max_rounds: int) -> str:
    return f"testing (round {round_number} of {max_rounds})"


def fixing(round_number: int, role: str) -> str:
    return f"fixing (round {round_number}): {role}"


def done(*, draft: bool, missing: Sequence[str] = ()) -> str:
    """Done with the pull request; a draft's reason: an agent's work that is missing (see the
    pull request), else the tests that still fail."""
    if missing:
        names = " and ".join(dict.fromkeys(missing))
        return f"{_DONE} (draft: the {names} agent's work is missing)"
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

"""The Messages API adapter against the scripted server: an error answer's `retry-after`
becomes the wait a ModelError carries (Temporal and the agent loop honour it)."""

from __future__ import annotations

import pytest

from bot.agents.model import AnthropicModel
from bot.errors import ModelError
from tests.fakes import ScriptedModel, Turn

REQUEST = {
    "model": "claude-test",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "<role>implement</role> hello"}],
}


@pytest.mark.parametrize(
    ("turn", "retryable", "wait"),
    [
        (Turn(error=429, retry_after=7), True, 7.0),
        (Turn(error=429), True, 1.0),  # the scripted server's default: retry-after 1
        (Turn(error=529, retry_after=2.5), True, 2.5),
        (Turn(error=500), True, None),  # no header: the caller's own backoff
        (Turn(error=400, retry_after=9), False, None),  # not a limit: the header means nothing
    ],
)
async def test_an_error_answers_wait_is_carried(
    server: ScriptedModel, model: AnthropicModel, turn: Turn, retryable: bool, wait: float | None
) -> None:
    """429, 529 (and 503) name a wait in retry-after; the ModelError carries it."""
    server.add_script("implement", [turn])
    with pytest.raises(ModelError) as caught:
        await model.create(**REQUEST)
    assert (caught.value.retryable, caught.value.retry_after) == (retryable, wait)

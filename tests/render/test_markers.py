"""The hidden marker of the app's comments: one plain line a retry can find, never shown,
never closed early by what it names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.core.targets import CommentKey
from bot.render.markers import carries, marked, marker
from tests.support.gfm import render

KEY = CommentKey(run="orchestrate-run-2-7-1001", kind="plan", since="2026-01-01T00:00:00+00:00")


def test_marker_is_a_hidden_first_line_naming_run_and_kind() -> None:
    """The marker is an HTML comment on the first line; GitHub shows only the text after it."""
    body = marked(KEY, "**orchestrate** · planning")
    assert body.splitlines()[0] == "<!-- orchestrate:run=orchestrate-run-2-7-1001 kind=plan -->"
    assert "orchestrate-run" not in render(body).text


def test_a_body_carries_only_its_own_marker_on_its_first_line() -> None:
    """Another kind, another run, or the marker quoted further down is not a match; the time
    bound of the search is not part of the marker."""
    assert carries(marked(KEY, "x"), KEY)
    assert carries(marked(KEY, "x").replace("\n", "\r\n", 1), KEY)
    assert carries(marked(KEY, "x"), KEY.model_copy(update={"since": None}))
    assert not carries(marked(KEY.model_copy(update={"kind": "failure"}), "x"), KEY)
    assert not carries(marked(KEY.model_copy(update={"run": "orchestrate-run-2-7-1"}), "x"), KEY)
    assert not carries("quoted:\n" + marker(KEY), KEY)


@pytest.mark.parametrize(
    ("run", "kind"),
    [("x --> <b>hi</b>", "plan"), ("orchestrate-run-1", "plan -->"), ("", "plan"), ("r", "")],
)
def test_a_key_that_could_break_out_of_the_comment_is_refused(run: str, kind: str) -> None:
    """Only plain words make a key: nothing can close the HTML comment early."""
    with pytest.raises(ValidationError):
        CommentKey(run=run, kind=kind)

"""The attribution table: rows, totals, escaping, the row cap."""

from __future__ import annotations

from bot.core.attribution import (
    Attribution,
    Hunk,
    LineCount,
)
from bot.render.attribution import render_table
from tests.git.helpers import SHA_A, SHA_B, SHA_C


def _hunk(path: str, **kw: object) -> Hunk:
    fields: dict[str, object] = dict(
        path=path, old_path=path, status="modified", new_start=3, new_count=2, old_start=3,
        old_count=1, added=2, removed=1, agents=["implement"], commits=[SHA_A],
        lines_by_agent={"implement": LineCount(added=2, removed=1)},
    )  # fmt: skip
    fields.update(kw)
    return Hunk.model_validate(fields)


def _attribution(*hunks: Hunk) -> Attribution:
    totals: dict[str, LineCount] = {}
    for hunk in hunks:
        for agent, count in hunk.lines_by_agent.items():
            total = totals.setdefault(agent, LineCount())
            total.added += count.added
            total.removed += count.removed
    return Attribution(
        hunks=list(hunks),
        totals_by_agent=totals,
        total_added=sum(h.added for h in hunks),
        total_removed=sum(h.removed for h in hunks),
    )


def test_render_table_rows_and_totals() -> None:
    """One row per hunk (range, deletion, binary, rename), a totals row per agent and overall."""
    attr = _attribution(
        _hunk("src/app.py", agents=["implement", "test"], commits=[SHA_A, SHA_B]),
        _hunk(
            "gone.txt",
            status="deleted",
            new_start=0,
            new_count=0,
            added=0,
            removed=3,
            agents=["docs"],
            commits=[SHA_C],
            lines_by_agent={"docs": LineCount(removed=3)},
        ),
        _hunk(
            "logo.png",
            kind="binary",
            new_start=0,
            new_count=0,
            old_start=0,
            old_count=0,
            added=0,
            removed=0,
            agents=["docs"],
            commits=[SHA_C],
            lines_by_agent={},
        ),
        _hunk("new.py", old_path="old.py", status="renamed", new_start=7, new_count=1),
    )
    assert render_table(attr) == (
        "| File | Lines | Agent(s) | Commit(s) | +/- |\n"
        "|---|---|---|---|---|\n"
        "| `src/app.py` | L3–L4 | implement, test | aaaaaaa, bbbbbbb | +2/-1 |\n"
        "| `gone.txt` | (deleted) | docs | ccccccc | +0/-3 |\n"
        "| `logo.png` | (binary) | docs | ccccccc | +0/-0 |\n"
        "| `old.py` → `new.py` | L7 | implement | aaaaaaa | +2/-1 |\n"
        "| **Total** | | implement | | +4/-2 |\n"
        "| **Total** | | docs | | +0/-3 |\n"
        "| **Total** | | **all** | | +4/-5 |\n"
    )


def test_render_table_escapes_paths_and_agents_and_links_lines() -> None:
    """Pipes and backticks in paths cannot break the table; agent names cannot mention; links."""
    attr = _attribution(
        _hunk("we|ird`name.py", agents=["@everyone <b>"], commits=[SHA_A], lines_by_agent={}),
    )
    table = render_table(attr, blob_url=lambda path, line: f"https://x/blob/h/{path}#L{line}")
    row = table.splitlines()[2]
    assert row.startswith("| ``we\\|ird`name.py`` | [L3–L4](https://x/blob/h/we%7Cird`name.py#L3)")
    assert "| @\u200beveryone &lt;b\\> |" in row  # shown as typed, pinging nobody
    assert row.count(" | ") == 4  # five cells: no unescaped pipe split the path


def test_render_table_caps_rows_but_keeps_totals() -> None:
    """max_rows folds the remaining hunks into one row; the totals still cover all of them."""
    attr = _attribution(*(_hunk(f"f{n}.py") for n in range(5)))
    table = render_table(attr, max_rows=2).splitlines()
    assert table[4] == "| … 3 more hunks | | | | +6/-3 |"
    assert table[-1] == "| **Total** | | **all** | | +10/-5 |"

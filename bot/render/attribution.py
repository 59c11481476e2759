"""The attribution table of a pull request: one row per hunk, then the totals per agent."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.core.attribution import Attribution, Hunk
from bot.render.markdown import inline

SHORT_SHA = 7
MAX_PATH_CHARS = 200  # of a path in a cell: rows stay short whatever the repository names
UNAVAILABLE = (
    "_The attribution of this change could not be computed; the diff is complete in the "
    "Files tab._\n"
)


def _code(text: str) -> str:
    """A code span that survives any path: fence longer than its backtick runs, pipes escaped
    (GFM splits table cells before it parses code), control characters made visible."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) > MAX_PATH_CHARS:
        text = "…" + text[-(MAX_PATH_CHARS - 1) :]  # the end of a path says the most
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    escaped = text.replace("|", "\\|")
    return f"{fence}{pad}{escaped}{pad}{fence}"


def _agent(name: str) -> str:
    # Trailer values are untrusted text: no markup, mention, reference or link (a role name
    # such as `gh-1` or `www.x.y` would be one).
    return inline(name, 40) or "–"


def _url(url: str) -> str:
    for char, code in (("|", "%7C"), (" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C")):
        url = url.replace(char, code)
    return url


def _lines_cell(hunk: Hunk, blob_url: Callable[[str, int], str] | None) -> str:
    if hunk.kind != "lines":
        return {
            "binary": "(binary)",
            "submodule": "(submodule)",
            "renamed": "(renamed)",
            "mode": "(mode changed)",
            "large": "(too many changes to itemise)",
        }.get(hunk.kind, "(deleted)" if hunk.status == "deleted" else "(empty)")
    if hunk.new_count == 0:
        return "(deleted)"
    last = hunk.new_start + hunk.new_count - 1
    text = f"L{hunk.new_start}" if last == hunk.new_start else f"L{hunk.new_start}–L{last}"
    return f"[{text}]({_url(blob_url(hunk.path, hunk.new_start))})" if blob_url else text


def _file_cell(hunk: Hunk) -> str:
    if hunk.old_path is not None and hunk.old_path != hunk.path:
        return f"{_code(hunk.old_path)} → {_code(hunk.path)}"
    return _code(hunk.path)


def render_table(
    attr: Attribution,
    *,
    blob_url: Callable[[str, int], str] | None = None,
    max_rows: int | None = None,
) -> str:
    """The markdown table: one row per hunk, then a totals row per agent and one overall.

    blob_url(path, line) links each line range; max_rows caps the hunk rows (PR bodies have a
    size limit) with one summary row for the rest, so the totals stay complete.
    """
    rows = ["| File | Lines | Agent(s) | Commit(s) | +/- |", "|---|---|---|---|---|"]
    shown = attr.hunks if max_rows is None else attr.hunks[:max_rows]
    for h in shown:
        agents = ", ".join(_agent(a) for a in h.agents)
        commits = ", ".join(sha[:SHORT_SHA] for sha in h.commits)
        counts = f"+{h.added}/-{h.removed}"
        rows.append(
            f"| {_file_cell(h)} | {_lines_cell(h, blob_url)} | {agents} | {commits} | {counts} |"
        )
    rest = attr.hunks[len(shown) :]
    if rest:
        added, removed = sum(h.added for h in rest), sum(h.removed for h in rest)
        rows.append(f"| … {len(rest)} more hunks | | | | +{added}/-{removed} |")
    for agent, count in attr.totals_by_agent.items():
        rows.append(f"| **Total** | | {_agent(agent)} | | +{count.added}/-{count.removed} |")
    rows.append(f"| **Total** | | **all** | | +{attr.total_added}/-{attr.total_removed} |")
    return "\n".join(rows) + "\n"

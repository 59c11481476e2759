"""Markdown building blocks for the run reports: escaping untrusted text, fences, sizes.

Issue text and model output are untrusted: whatever they contain must not break the layout of
a comment (table columns, code fences, `<details>` blocks), hide text (HTML comments), ping
people (`@user`) or reference and close issues (`#12`) when the bot echoes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ZWSP = "\u200b"  # zero-width space: breaks a mention or a reference without showing
GITHUB_BODY_LIMIT = 65_536
BODY_BUDGET = 65_000  # a margin under GitHub's limit

_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_REFERENCE = re.compile(r"#(?=\d)")
_FENCE = re.compile(r"([`~])(?=\1\1)")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_MERMAID_UNSAFE = re.compile(r"[^\w .,/+=!?'*-]")
_BACKTICKS = re.compile(r"`+")


def size(text: str) -> int:
    """Length as GitHub may count it (UTF-16 code units; never less than code points)."""
    return len(text.encode("utf-16-le")) // 2


def _printable(text: str, keep: str = "\n\t") -> str:
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    return "".join(ch if ch.isprintable() or ch in keep else " " for ch in text)


def neutralise(text: str) -> str:
    """No mentions, issue references or HTML (tags, comments, closing `</details>`)."""
    text = _MENTION.sub("@" + ZWSP, text)
    text = _REFERENCE.sub("#" + ZWSP, text)
    return text.replace("<", "&lt;")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def block(text: str, limit: int = 4000) -> str:
    """Untrusted text as markdown paragraphs: neutralised, capped, and with every run of three
    backticks or tildes broken, so no code fence opens (one could swallow the rest of a body,
    closing tags included, at any indentation or inside any list)."""
    text = neutralise(_printable(shorten(text.strip(), limit)))
    return _FENCE.sub(lambda m: m.group(1) + ZWSP, text)


def inline(text: str, limit: int = 200) -> str:
    """Untrusted text on one line or in a table cell: no newline, no unescaped `|`."""
    text = " ".join(_printable(text, keep="").split())
    return neutralise(shorten(text, limit)).replace("|", "\\|")


def code_span(text: str, limit: int = 300, *, cell: bool = True) -> str:
    """A code span that any text fits in: the fence is longer than the text's backtick runs. In a
    table `cell`, pipes are escaped (GFM splits cells before it parses code; outside a table the
    backslash would show)."""
    text = _printable(shorten(text, limit), keep="")
    if not text:
        return "` `"
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if cell:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, info: str = "text") -> str:
    """A fenced code block nothing in `text` can close: the fence is longer than any backtick
    run in it. Inside, markdown, HTML and mentions are inert."""
    text = _printable(text).rstrip("\n")
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def mermaid_label(text: str, limit: int = 48) -> str:
    """Text safe inside a quoted mermaid label or a gantt task name: quotes, brackets, `<>`,
    colons, `#`, `;`, `%` and backticks would end or re-parse it, so only plain characters stay."""
    cleaned = " ".join(_MERMAID_UNSAFE.sub(" ", text).split())
    return shorten(cleaned, limit) or "-"


def login(name: str) -> str:
    """A GitHub login as the API gives it; anything else is reduced to login characters."""
    return re.sub(r"[^A-Za-z0-9-]", "", name)[:39] or "someone"


def tokens(count: int) -> str:
    """12345 → "12.3k", 1234567 → "1.2M"."""
    if count < 1000:
        return str(count)
    if count < 999_950:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


def dollars(amount: float | None) -> str:
    if amount is None:
        return "n/a"
    if 0 < amount < 0.01:
        return "<$0.01"
    return f"${amount:,.2f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A GFM table; the cells must already be escaped (inline, code_span)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Section:
    """A part of a report. `shrink(max_size)` returns a version of at most that size (with a note
    saying what was cut); sections without it are never cut. Lower `cut_order` is cut first."""

    text: str
    shrink: Callable[[int], str] | None = None
    cut_order: int = 0


def fit(sections: list[Section], budget: int = BODY_BUDGET, separator: str = "\n\n") -> str:
    """Join the sections in order; when too big, shrink the shrinkable ones (by `cut_order`)
    just enough, each in turn, until the whole fits."""

    def joined() -> str:
        return separator.join(section.text for section in sections if section.text)

    for section in sorted(sections, key=lambda s: s.cut_order):
        over = size(joined()) - budget
        if over <= 0:
            break
        if section.shrink is not None and section.text:
            section.text = section.shrink(max(0, size(section.text) - over))
    return joined()

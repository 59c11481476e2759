"""Markdown building blocks of everything the app posts: untrusted text made inert, fences,
sizes.

Issue text, repository content and model output are untrusted. Shown by `inline` or `block`,
such text reaches the reader as the same characters and nothing else, because of three steps:

1. Clean: NFKC normalisation (look-alikes such as `＠`, `﹟`, `＜` become the ASCII they stand
   for, so the steps below see them), then control, format (zero-width, bidi, tag), private-use
   and unassigned characters are dropped: they could hide or reorder what a reader sees, or
   pre-place a break that step 3 would then trust.
2. Markdown: every inline construct of CommonMark and GFM that links, embeds, hides or
   changes the layout needs one of ``\\ ` * _ [ ] < > # & | ~ $`` anywhere in a line: links,
   images, reference definitions and footnotes (`[ ]`; `!` and `(` act only after them),
   autolinks and raw HTML, comments included (`<`), entities (`&`), code spans and fences
   (`` ` ~ ``), emphasis and strikethrough (`* _ ~`), table cells (`|`), math (`$`), hard
   breaks (`\\`). Each one is backslash-escaped (GFM honours a backslash before any ASCII
   punctuation, in table cells too) and `<` is written `&lt;`. The other block markers act
   only at the start of a line: headings (`#`) and quotes (`>`) are escaped anyway; lists,
   thematic breaks and setext underlines (`-`, `+`, `=`, `1.`, `1)`) are escaped there.
   Every line is unindented first (no indented code block), and `inline` treats its own
   start as a line start, since it may follow a list marker. So the text parses as text.
3. GitHub's own filters run on the rendered text, where the escapes are gone: mentions
   (`@user`, `@org/team`), references (`#1`, `GH-1`, `owner/repo#1`, `user@sha`,
   `owner/repo@sha`), URLs (`scheme://`, `www.`, which also turns issue, pull request and commit
   URLs of any host into cross-references) and e-mail addresses (`a@b.c`). Every one of them
   is anchored on `@`, `#`, `gh-`, `://` or `www.`: a zero-width space after each `@` and `#`,
   inside `gh-`, `://`, `//` and `www.` leaves no anchor, in the markdown source or in the
   rendered text. Closing keywords act only on such a reference, so they are inert too.

The only other form untrusted text takes is code: `code_span` and `fenced` (GitHub links,
mentions and references nothing inside `code` or `pre`), with a fence longer than any run of
backticks inside, so nothing can close it. `block` and `inline` keep the text's own balanced
code spans as code spans. Left alone: a bare commit SHA links to that commit of this very
repository (no notification, no backlink), as do a repository's own configured autolinks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

ZWSP = "\u200b"  # zero-width space: breaks a mention, a reference or a URL without showing
GITHUB_BODY_LIMIT = 65_536
BODY_BUDGET = 65_000  # a margin under GitHub's limit

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_HIDDEN = frozenset(["Cf", "Cs", "Co", "Cn"])  # format (zero-width, bidi, tags), surrogates...
_ANCHOR = re.compile(r"[@#]|(?i:gh)(?=-)|:(?=//)|/(?=/)|(?i:www)(?=\.)")
_INLINE_SYNTAX = re.compile(r"[\\`*_\[\]<>#&|~$]")
_BLOCK_MARKER = re.compile(r"[-+=]|\d+(?=[.)])")
_MERMAID_UNSAFE = re.compile(r"[^\w .,/+=!?'*-]")
_BACKTICKS = re.compile(r"`+")
_APP_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::\d+)?/[\w.-]+/[\w.-]+/(?:pull|issues)/\d+"
    r"(?:#issuecomment-\d+|#discussion_r\d+)?"
)


def size(text: str) -> int:
    """Length as GitHub may count it (UTF-16 code units; never less than code points)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _printable(text: str, keep: str = "\n\t") -> str:
    """For code: escape sequences gone, every other unprintable character (controls, bidi,
    zero-width) shown as a space, so a code span or block shows what it holds."""
    text = _ANSI.sub("", _NEWLINES.sub("\n", text))
    return "".join(ch if ch.isprintable() or ch in keep else " " for ch in text)


def clean(text: str) -> str:
    """Step 1 of the module docstring: NFKC, `\\n` newlines, no hidden character, and any
    other control character as a space."""
    text = unicodedata.normalize("NFKC", _ANSI.sub("", _NEWLINES.sub("\n", text)))
    return "".join(_visible(ch) for ch in text)


def _visible(char: str) -> str:
    category = unicodedata.category(char)
    if category in _HIDDEN:
        return ""
    return " " if category == "Cc" and char != "\n" else char


def _escape(text: str, line_start: bool) -> str:
    """Steps 2 and 3 on cleaned text."""
    text = _ANCHOR.sub(lambda m: m.group() + ZWSP, text)
    text = _INLINE_SYNTAX.sub(lambda m: "&lt;" if m.group() == "<" else "\\" + m.group(), text)
    marker = _BLOCK_MARKER.match(text) if line_start else None
    if marker is not None:  # `1.` and `1)` after the digits, `-`, `+`, `=` before themselves
        cut = marker.end() if marker.group().isdigit() else 0
        text = text[:cut] + "\\" + text[cut:]
    return text


def _pieces(line: str) -> Iterator[tuple[bool, str]]:
    """(is_code, text) pieces of one line: a backtick run opens a code span that the next run
    of the same length closes (CommonMark's rule); an unmatched run is text."""
    runs = list(_BACKTICKS.finditer(line))
    following: list[int | None] = [None] * len(runs)
    seen: dict[int, int] = {}
    for index in reversed(range(len(runs))):
        length = len(runs[index].group())
        following[index], seen[length] = seen.get(length), index
    start, index = 0, 0
    while index < len(runs):
        closing = following[index]
        if closing is None:
            index += 1
            continue
        yield False, line[start : runs[index].start()]
        yield True, line[runs[index].end() : runs[closing].start()]
        start, index = runs[closing].end(), closing + 1
    yield False, line[start:]


def _line(line: str, cell: bool) -> str:
    return "".join(
        code_span(text, len(text), cell=cell) if code else _escape(text, index == 0)
        for index, (code, text) in enumerate(_pieces(line))
        if text or code
    )


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def block(text: str, limit: int = 4000) -> str:
    """Untrusted text as markdown lines: cleaned, capped, each line neutralised apart from its
    balanced code spans, and unindented (no line can open a fence, a quote, a list or a
    table, or close the `<details>` it sits in)."""
    lines = shorten(clean(text).strip(), limit).split("\n")
    return "\n".join(_line(line.strip(), cell=False) for line in lines).strip()


def inline(text: str, limit: int = 200) -> str:
    """Untrusted text on one line, also fit for a table cell: whitespace collapsed, neutralised
    apart from its balanced code spans, whose pipes are escaped (see `code_span`: a split
    cell would unbalance a span and leave its content unescaped)."""
    return _line(shorten(" ".join(clean(text).split()), limit), cell=True)


def app_url(url: str) -> str:
    """A URL the app got from GitHub (its own pull request or comment) as a bare link; anything
    else is shown as inert text."""
    return url if _APP_URL.fullmatch(url) else inline(url, 300)


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


def shrunk(render: Callable[[int], str], limits: Sequence[int], max_size: int) -> str:
    """The first of `render(limit)` for each of `limits` (most shown first) that fits in
    `max_size`, else the last one."""
    for limit in limits:
        text = render(limit)
        if size(text) <= max_size:
            break
    return text


def keep_head(text: str, max_size: int, what: str) -> str:
    """The whole lines of `text` that fit in `max_size` with a note saying how many were cut."""
    if size(text) <= max_size:
        return text
    lines = text.splitlines()
    kept: list[str] = []
    used = 0
    note_room = 120
    for line in lines:
        if used + size(line) + 1 + note_room > max_size:
            break
        kept.append(line)
        used += size(line) + 1
    note = f"_… {len(lines) - len(kept)} lines of {what} cut to fit GitHub's size limit._"
    return "\n".join([*kept, "", note]) if kept else note


def details(summary: str, body: str) -> str:
    """A collapsed block; blank lines around the body so its markdown is rendered."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"

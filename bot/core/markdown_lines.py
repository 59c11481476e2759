"""A comment's Markdown as GitHub renders it: the lines a reader sees start a paragraph line, and
the source text no reader sees. Pure: no I/O.

GitHub renders comments with CommonMark (plus tables and strikethrough) and shows each source line
break as a line break. A line can carry a command only when a reader sees it as an ordinary line
of a top-level paragraph: not in a code block, a block quote (lazy lines included), a list, a
table, a heading or raw HTML, and not inside a link, emphasis or an HTML element opened earlier.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.common.utils import MD_TRIM_CHARS
from markdown_it.rules_inline import StateInline, escape, html_inline, newline
from markdown_it.token import Token

from bot.core.html_state import HtmlState

_BREAKS = frozenset({"softbreak", "hardbreak"})
# Inline tokens whose content a reader sees as text (an image's alt text is not on the line).
_SHOWN = frozenset({"text", "text_special", "code_inline"})
# Block tokens that only wrap others: a line they alone cover shows nothing of its own.
_CONTAINERS = frozenset(
    {"blockquote_open", "bullet_list_open", "ordered_list_open", "list_item_open"}
)
# What a browser never shows inside raw HTML: comments, and `<!…>` / `<?…>` (bogus comments).
_HIDDEN_HTML_START = re.compile(r"<!--|<[!?]")
_COMMENT_END = re.compile(r"--!?>")
_MARKERS_ONLY = re.compile(r"[\s>]*")

Rule = Callable[[StateInline, bool], bool]


@dataclass(frozen=True)
class LineStart:
    """A rendered line that may carry a command: a top-level paragraph line, outside any markup."""

    lead: str  # the plain text the line starts with (one text token: no escape, entity or markup)
    text: str  # everything the line shows
    offset: int  # where `lead` starts in the source


@dataclass(frozen=True)
class RenderedComment:
    source: str  # the body with line endings normalised, as parsed
    lines: tuple[LineStart, ...]
    hidden: tuple[tuple[int, int], ...]  # source spans no reader sees

    def visible_from(self, offset: int) -> str:
        """The source from `offset` on, without the spans no reader sees."""
        parts, cursor = [], offset
        for start, end in sorted(self.hidden):
            if end <= cursor:
                continue
            parts.append(self.source[cursor : max(cursor, start)])
            cursor = max(cursor, end)
        parts.append(self.source[cursor:])
        return "".join(parts)


def render(body: str) -> RenderedComment:
    """Parse `body` the way GitHub renders it."""
    source = re.sub(r"\r\n?", "\n", body).replace("\0", "\ufffd")
    walk = _Walk(source)
    tokens = _parser().parse(source)
    for index, token in enumerate(tokens):
        if token.type == "html_block":
            walk.html(token, token.content, 0)
        elif token.type == "inline":
            opener = tokens[index - 1]
            walk.inline(token, top=opener.type == "paragraph_open" and opener.level == 0)
    walk.hide_unrendered_lines(tokens)
    return RenderedComment(source, tuple(walk.lines), tuple(walk.hidden))


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    md.disable("text_join")  # keep escapes and entities apart from plain text
    for name, rule in (("newline", newline), ("escape", escape), ("html_inline", html_inline)):
        md.inline.ruler.at(name, _with_positions(rule))
    return md


def _with_positions(rule: Rule) -> Rule:
    """Record where a line break ends and where inline HTML lies in the inline content."""

    def positioned(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > count:
            token = state.tokens[-1]
            if token.type in _BREAKS or token.type == "html_inline":
                token.meta = {**token.meta, "start": start, "end": state.pos}
        return True

    return positioned


@dataclass
class _Walk:
    """One pass over the tokens in document order: candidate lines, hidden spans, open HTML."""

    source: str
    lines: list[LineStart] = field(default_factory=list)
    hidden: list[tuple[int, int]] = field(default_factory=list)
    html_state: HtmlState = field(default_factory=HtmlState)

    def __post_init__(self) -> None:
        self.line_starts = _line_starts(self.source)
        self._maps: dict[int, _ContentMap | None] = {}

    def html(self, token: Token, html: str, at: int) -> None:
        """Raw HTML at `at` in `token.content` (-1: unknown): hide what a browser hides, and
        track which elements stay open."""

        def place(position: int) -> int:
            return at + position if at >= 0 else -1

        was_swallowing = self.html_state.swallowing
        self.html_state.feed(html)
        for start, end in _hidden_html_spans(html):
            self.hide(token, place(start), place(end))
        if self.html_state.swallowing and not was_swallowing:
            # An unterminated comment or tag swallows everything after it.
            self.hide(token, place(max(0, len(html) - len(self.html_state.pending))), None)

    def inline(self, token: Token, *, top: bool) -> None:
        """Keep the lines of `token` that may carry a command (`top`: a top-level paragraph)."""
        for line in _rendered_lines(token, self, top):
            offset = self.offset(token, line.offset)
            if offset is not None and self._starts_source_line(line.lead, offset):
                self.lines.append(LineStart(line.lead, line.text, offset))

    def _starts_source_line(self, lead: str, offset: int) -> bool:
        """`lead` is at `offset`, after nothing but spaces and tabs on its source line (the
        parser also trims other Unicode spaces from a paragraph's start; GitHub shows them)."""
        line_start = self.line_starts[bisect.bisect_right(self.line_starts, offset) - 1]
        indent = self.source[line_start:offset]
        return self.source.startswith(lead, offset) and not indent.strip(" \t")

    def hide(self, token: Token, start: int, end: int | None) -> None:
        """Hide `start:end` of `token.content` (None: to the end of the comment)."""
        first = self.offset(token, start) if start >= 0 else None
        last = len(self.source) if end is None else self.offset(token, end) if end >= 0 else None
        if first is None or last is None:  # cannot place it: hide the token's whole lines
            first, last = self._token_span(token)
            last = len(self.source) if end is None else last
        self.hidden.append((first, last))

    def offset(self, token: Token, position: int) -> int | None:
        """Where `position` of `token.content` is in the source, or None if that cannot be told."""
        key = id(token)
        if key not in self._maps:
            self._maps[key] = _ContentMap.of(token, self.source, self.line_starts)
        content_map = self._maps[key]
        return None if content_map is None else content_map.to_source(position)

    def _token_span(self, token: Token) -> tuple[int, int]:
        first, last = token.map or (0, len(self.line_starts) - 1)
        return self.line_starts[first], self.line_starts[min(last, len(self.line_starts) - 1)]

    def hide_unrendered_lines(self, tokens: list[Token]) -> None:
        """Hide source lines no block shows: link reference definitions (`[//]: # (note)`)."""
        shown: set[int] = set()
        for token in tokens:
            if token.map and token.type not in _CONTAINERS:
                shown.update(range(*token.map))
        for number in range(len(self.line_starts) - 1):
            start, end = self.line_starts[number], self.line_starts[number + 1]
            if number not in shown and not _MARKERS_ONLY.fullmatch(self.source[start:end]):
                self.hidden.append((start, end))


def _hidden_html_spans(html: str) -> Iterator[tuple[int, int]]:
    """Complete comments and bogus comments in raw HTML (one pass: no backtracking)."""
    position = 0
    while match := _HIDDEN_HTML_START.search(html, position):
        start = match.start()
        if match.group() == "<!--":
            if html.startswith(("<!-->", "<!--->"), start):  # abruptly closed, still a comment
                end = html.index(">", start) + 1
            else:
                closing = _COMMENT_END.search(html, start + 4)
                end = closing.end() if closing else -1
        else:
            end = html.find(">", start)
            end = end + 1 if end >= 0 else -1
        if end < 0:  # unterminated: the swallowing rule hides the rest
            return
        yield start, end
        position = end


def _line_starts(text: str) -> list[int]:
    """Where each line of `text` starts, then `len(text)`."""
    return [0, *(match.end() for match in re.finditer("\n", text)), len(text)]


@dataclass(frozen=True)
class _ContentMap:
    """Positions in a token's content, mapped to the source it was cut from."""

    content_starts: list[int]  # where each content line starts in the content
    source_starts: list[int]  # ... and in the source

    @classmethod
    def of(cls, token: Token, source: str, line_starts: list[int]) -> _ContentMap | None:
        # Each content line is the end of its source line (container markers and indentation
        # cut off); only the last may have lost trailing whitespace. Anything else: unknown.
        first, last = token.map or (0, 0)
        source_starts = []
        for number, text in enumerate(token.content.split("\n")):
            line = min(first + number, len(line_starts) - 1)
            if first + number >= last:  # the empty line after a block's final newline
                if text:
                    return None
                source_starts.append(line_starts[line])
                continue
            whole = source[line_starts[line] : line_starts[line + 1]].removesuffix("\n")
            candidates = (whole, whole.rstrip(MD_TRIM_CHARS))
            shown = next((c for c in candidates if c.endswith(text)), None)
            if shown is None:
                return None
            source_starts.append(line_starts[line] + len(shown) - len(text))
        return cls(_line_starts(token.content)[:-1], source_starts)

    def to_source(self, position: int) -> int:
        line = bisect.bisect_right(self.content_starts, position) - 1
        return self.source_starts[line] + position - self.content_starts[line]


@dataclass
class _Line:
    lead: str
    offset: int  # in the inline content
    text: str = ""


def _rendered_lines(inline: Token, walk: _Walk, top: bool) -> Iterator[_Line]:
    """The lines of one inline token that may carry a command, feeding its raw HTML to `walk`."""
    depth = 0  # open links, emphasis, strikethrough
    line: _Line | None = None
    starts_line, position = True, 0
    for child in inline.children or []:
        if child.type in _BREAKS:
            if line is not None:
                yield line
            line, starts_line, position = None, True, child.meta.get("end", -1)
            continue
        if starts_line:
            visible = top and depth == 0 and not walk.html_state.hiding
            if visible and child.type == "text" and position >= 0:
                line = _Line(child.content, position)
            starts_line = False
        depth += child.nesting
        if child.type == "html_inline":
            walk.html(inline, child.content, child.meta.get("start", -1))
        elif line is not None and child.type in _SHOWN and not walk.html_state.hiding:
            line.text += child.content
    if line is not None:
        yield line

"""Which raw HTML elements a browser would still have open after a comment's HTML so far. Pure."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

# Elements that never hold content: opening one leaves nothing open.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source"}
    | {"track", "wbr"}
)


_ABRUPT_COMMENT = re.compile(r"<!---?>")


class HtmlState(HTMLParser):
    """Fed the raw HTML pieces of a comment in order; says whether what follows is hidden.

    Errs towards "hidden": an element counts as open until its own end tag (a browser may close
    it earlier), `<div/>` opens a div as browsers do, and an unterminated comment or tag, or
    input the parser cannot read, hides the rest of the comment.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open_elements: Counter[str] = Counter()
        self.broken = False

    def feed(self, data: str) -> None:
        if self.swallowing:  # hidden to the end either way; re-scanning would be quadratic
            return
        try:
            # `<!-->` and `<!--->` are whole (empty) comments to a browser, not to html.parser.
            super().feed(_ABRUPT_COMMENT.sub("<!---->", data))
        except AssertionError:  # html.parser's answer to some malformed declarations
            self.broken = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.open_elements[tag] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # HTML ignores the slash on non-void elements

    def handle_endtag(self, tag: str) -> None:
        if self.open_elements[tag] > 0:
            self.open_elements[tag] -= 1

    @property
    def pending(self) -> str:
        """Input the parser holds back: the start of a comment or tag that never ended."""
        return self.rawdata

    @property
    def swallowing(self) -> bool:
        """True when an unterminated comment, tag or declaration hides everything after it."""
        return self.broken or "<" in self.rawdata

    @property
    def hiding(self) -> bool:
        """True when what follows is inside raw HTML (an open element) or swallowed."""
        return self.swallowing or any(self.open_elements.values())

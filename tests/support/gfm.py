"""What a reader of GitHub gets from a piece of markdown: GitHub's own cmark-gfm renders it, and
GitHub's reference, mention and autolink patterns are looked for in the rendered text.

The patterns are written from GitHub's docs ("Autolinked references and URLs", "Basic writing
and formatting syntax: mentioning people and teams", "Linking a pull request to an issue using
a keyword"). They are deliberately looser than GitHub's (fewer boundary rules), so that they
find at least what GitHub would link.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

# Raw HTML is kept (no `tagfilter`, CMARK_OPT_UNSAFE) so that any tag the input smuggles in
# shows up as a tag; GitHub's sanitiser would drop some, but a test must not rely on that.
_EXTENSIONS = ["table", "autolink", "strikethrough", "tasklist"]
_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES

_KEYWORD = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_REFERENCE = r"(?:#\d|gh-\d|[\w.-]+/[\w.-]+#\d|[a-z][a-z0-9+.-]*://)"
GITHUB_PATTERNS: dict[str, re.Pattern[str]] = {
    # @user, @org/team
    "mention": re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9][\w-]*)?"),
    # #26, owner/repo#26 (and owner#26)
    "issue": re.compile(r"#\d+"),
    "gh_issue": re.compile(r"(?i)gh-\d+"),
    # user@sha, owner/repo@sha
    "commit": re.compile(r"@[0-9a-f]{7,40}"),
    # https://host/owner/repo/issues/26 of any host (GitHub.com or GHES), any scheme
    "url": re.compile(r"(?i)[a-z][a-z0-9+.-]*://\S"),
    "www": re.compile(r"(?i)www\."),
    "email": re.compile(r"[\w.+-]+@[\w-]+\.\w"),
    "closing": re.compile(rf"(?i)\b{_KEYWORD}\b:?\s*{_REFERENCE}"),
}


def to_html(markdown: str) -> str:
    return str(
        cmarkgfm.markdown_to_html_with_extensions(
            markdown, options=_OPTIONS, extensions=_EXTENSIONS
        )
    )


@dataclass
class Rendered:
    """Tags in order, HTML comments, the text outside `code`/`pre` (one run per text node
    between tags, as GitHub's filters see it) and all the text a reader sees."""

    tags: list[str] = field(default_factory=list)
    comments: int = 0
    prose: list[str] = field(default_factory=list)
    text: str = ""

    def links(self) -> Counter[str]:
        """Every match of a GitHub pattern in the prose, as `pattern:match`."""
        found: Counter[str] = Counter()
        for run in self.prose:
            for name, pattern in GITHUB_PATTERNS.items():
                found.update(f"{name}:{m.group()}" for m in pattern.finditer(run))
        return found

    def structure(self) -> Counter[str]:
        """The tags that make the layout: all but paragraphs, line breaks and code spans
        (which text may legitimately add)."""
        return Counter(tag for tag in self.tags if tag.lstrip("/") not in {"p", "br", "code"})


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = Rendered()
        self._code = 0
        self._run: list[str] = []
        self._all: list[str] = []

    def _flush(self) -> None:
        if self._run and not self._code:
            self.result.prose.append("".join(self._run))
        self._run = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        self.result.tags.append(tag)
        self._code += tag in {"code", "pre"}

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        self.result.tags.append("/" + tag)
        self._code -= tag in {"code", "pre"}

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        self.result.tags.append(tag)

    def handle_comment(self, data: str) -> None:
        self.result.comments += 1

    def handle_data(self, data: str) -> None:
        self._run.append(data)
        self._all.append(data)

    def close(self) -> None:
        super().close()
        self._flush()
        self.result.text = "".join(self._all)


def render(markdown: str) -> Rendered:
    reader = _Reader()
    reader.feed(to_html(markdown))
    reader.close()
    return reader.result


def plain_links(text: str) -> Counter[str]:
    """GitHub's patterns in plain text (a commit message or a title: not markdown)."""
    return Rendered(prose=[text]).links()

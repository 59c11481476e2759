"""Untrusted text (issue titles, bodies, comments, tool output) made safe to show a model.

`clean` removes what a human reviewer cannot see but a model reads: HTML comments (GitHub hides
them when rendering), zero-width, bidi and other invisible control characters, Unicode tag
characters (which can spell whole hidden sentences). It normalises newlines and caps the length.
`data_block` then wraps the text in a delimited block the prompts call data, not instructions;
the delimiter cannot be forged from inside because any tag of that name in the text is escaped.
"""

from __future__ import annotations

import re

__all__ = ["MAX_UNTRUSTED_CHARS", "clean", "data_block", "wrap"]

MAX_UNTRUSTED_CHARS = 20_000
DATA_TAG = "untrusted-data"

# An unterminated `<!--` hides the rest of the text on GitHub too: drop it to the end.
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_INVISIBLE_RANGES = (
    (0x0000, 0x0008),  # C0 controls except tab and newline
    (0x000B, 0x000C),
    (0x000E, 0x001F),
    (0x007F, 0x009F),  # DEL and C1 controls
    (0x00AD, 0x00AD),  # soft hyphen
    (0x061C, 0x061C),  # Arabic letter mark (bidi)
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space/joiners, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x2069),  # bidi isolates
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFF9, 0xFFFB),  # interlinear annotation controls
    (0xE0000, 0xE007F),  # tag characters
)
_INVISIBLE = re.compile(
    "[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _INVISIBLE_RANGES) + "]"
)
_NEWLINES = re.compile(r"\r\n?|[\u0085\u2028\u2029]")
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def clean(text: str, *, limit: int = MAX_UNTRUSTED_CHARS) -> str:
    """`text` without HTML comments and invisible characters, with `\\n` newlines, capped."""
    text = _NEWLINES.sub("\n", text)  # before the control-character pass removes U+0085
    text = _HTML_COMMENT.sub("", text)
    text = _INVISIBLE.sub("", text)
    # Removing invisible characters can assemble a new `<!--`; one more pass settles it.
    text = _HTML_COMMENT.sub("", text)
    if len(text) > limit:
        text = text[:limit] + f"\n[... truncated: {len(text) - limit} more characters]"
    return text


def wrap(tag: str, text: str, **attributes: str) -> str:
    """`<tag attr="…">\\ntext\\n</tag>`, with every `<tag` or `</tag` inside `text` escaped."""
    if not _NAME.fullmatch(tag):
        raise ValueError(f"invalid tag name: {tag!r}")
    for name, value in attributes.items():
        if not _NAME.fullmatch(name) or not _NAME.fullmatch(value):
            raise ValueError(f"invalid attribute: {name}={value!r}")
    forged = re.compile(r"<(\s*/?\s*)(" + re.escape(tag) + r")", re.IGNORECASE)
    body = forged.sub(r"&lt;\1\2", text)
    attrs = "".join(f' {name}="{value}"' for name, value in attributes.items())
    return f"<{tag}{attrs}>\n{body}\n</{tag}>"


def data_block(name: str, text: str, *, limit: int = MAX_UNTRUSTED_CHARS) -> str:
    """Untrusted `text`, cleaned and capped, in a block that nothing inside it can close."""
    return wrap(DATA_TAG, clean(text, limit=limit), name=name)

"""Path globs as the write policy matches them, and names folded as case-insensitive file
systems compare them (pure)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# Characters HFS+ ignores in names.
_IGNORABLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")


def fold_name(name: str) -> str:
    """A name as a case-insensitive client compares it: NFC, casefolded, HFS-ignorable
    characters dropped, an NTFS stream suffix (`name::$DATA`) and trailing dots and spaces
    dropped."""
    name = _IGNORABLE.sub("", unicodedata.normalize("NFC", name)).casefold().split(":", 1)[0]
    return name.rstrip(". ") or name


def glob_matches(pattern: str, relative_path: str) -> bool:
    """Whether a slash-separated relative path matches the glob as a whole."""
    return _glob_regex(pattern).fullmatch(relative_path) is not None


def denied(folded_path: str, globs: Iterable[str]) -> bool:
    """Whether a folded path falls under one of the globs (matched case-insensitively), or
    stands where a directory a glob protects (or its parent) is."""
    for glob in globs:
        pattern = glob.casefold()
        if covered(folded_path, (pattern,)):
            return True
        protected = literal_prefix(pattern)
        if protected and (protected == folded_path or protected.startswith(folded_path + "/")):
            return True  # the entry stands where the protected directory (or its parent) is
    return False


def covered(path: str, globs: Iterable[str]) -> bool:
    """The path or one of its parent directories matches one of the globs."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return any(glob_matches(glob, prefix) for glob in globs for prefix in prefixes)


def literal_prefix(pattern: str) -> str:
    """The leading directories of a glob that hold no wildcard: what the glob protects."""
    literal = []
    for part in pattern.split("/"):
        if any(char in part for char in "*?["):
            break
        literal.append(part)
    return "/".join(literal)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)

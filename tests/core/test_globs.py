"""Glob matching as the write policy applies it."""

from __future__ import annotations

import pytest

from bot.core.globs import glob_matches


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (".github/workflows/**", ".github/workflows/ci.yml", True),
        (".github/workflows/**", ".github/workflows/sub/ci.yml", True),
        (".github/workflows/**", ".github/other.yml", False),
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),
        ("**/*.md", "README.md", True),
        ("**/*.md", "docs/a/README.md", True),
        ("src/*.py", "src/a/b.py", False),
        ("file?.[ch]", "file1.c", True),
        ("file?.[!ch]", "file1.c", False),
    ],
)
def test_glob_matching(pattern: str, path: str, expected: bool) -> None:
    """`*` stays in one directory, `**` crosses them, the whole path must match."""
    assert glob_matches(pattern, path) is expected

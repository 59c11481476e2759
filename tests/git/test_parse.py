"""The parsers of git's output: diffs, blame, trailer logs, numstat, quoted paths."""

from __future__ import annotations

from bot.core.diff import RawHunk
from bot.git.parse import (
    parse_agent_log,
    parse_blame_porcelain,
    parse_diff,
    parse_numstat,
    unquote_path,
)
from tests.git.helpers import SHA_A, SHA_B, SHA_C

DIFF = """\
diff --git a/src/app.py b/src/app.py
index 1111111..2222222 100644
--- a/src/app.py
+++ b/src/app.py
@@ -3 +3 @@ def main():
-    old()
+    new()
@@ -10,2 +10,0 @@ def main():
--- a/looks-like-a-header
-second removed
@@ -20,0 +19,3 @@ def other():
+one
+two
+three
\\ No newline at end of file
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 3333333..0000000
--- a/gone.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-a
-b
diff --git a/new file.txt b/new file.txt
new file mode 100644
index 0000000..4444444
--- /dev/null
+++ b/new file.txt\t
@@ -0,0 +1 @@
+hello
diff --git a/old name.py "b/tab\\there\\303\\251.py"
similarity index 90%
rename from old name.py
rename to "tab\\there\\303\\251.py"
index 5555555..6666666 100644
--- a/old name.py\t
+++ "b/tab\\there\\303\\251.py"
@@ -2 +2 @@
-x
+y
diff --git a/logo.png b/logo.png
index 7777777..8888888 100644
Binary files a/logo.png and b/logo.png differ
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
diff --git a/a b.txt b/c d.txt
similarity index 100%
rename from a b.txt
rename to c d.txt
"""


def test_parse_diff_reads_every_kind_of_file_section() -> None:
    """Hunks (with implied counts), added, deleted, renamed, quoted, binary and mode-only files."""
    files = parse_diff(DIFF)
    assert [(f.old_path, f.new_path, f.status) for f in files] == [
        ("src/app.py", "src/app.py", "modified"),
        ("gone.txt", None, "deleted"),
        (None, "new file.txt", "added"),
        ("old name.py", "tab\there\u00e9.py", "renamed"),
        ("logo.png", "logo.png", "modified"),
        ("run.sh", "run.sh", "modified"),
        ("a b.txt", "c d.txt", "renamed"),
    ]
    app = files[0]
    assert app.hunks == [RawHunk(3, 1, 3, 1), RawHunk(10, 2, 10, 0), RawHunk(20, 0, 19, 3)]
    assert (app.added, app.removed) == (4, 3)
    assert files[1].hunks == [RawHunk(1, 2, 0, 0)]
    assert files[2].hunks == [RawHunk(0, 0, 1, 1)]
    assert [f.binary for f in files] == [False, False, False, False, True, False, False]
    assert files[5].mode_changed and not files[5].hunks
    assert files[6].hunks == []


GITLINK_DIFF = """\
diff --git a/vendor/new b/vendor/new
new file mode 160000
index 0000000..1111111
--- /dev/null
+++ b/vendor/new
@@ -0,0 +1 @@
+Subproject commit 1111111111111111111111111111111111111111
diff --git a/vendor/moved b/vendor/moved
index 2222222..3333333 160000
--- a/vendor/moved
+++ b/vendor/moved
@@ -1 +1 @@
-Subproject commit 2222222222222222222222222222222222222222
+Subproject commit 3333333333333333333333333333333333333333
diff --git a/vendor/gone b/vendor/gone
deleted file mode 160000
index 4444444..0000000
--- a/vendor/gone
+++ /dev/null
@@ -1 +0,0 @@
-Subproject commit 4444444444444444444444444444444444444444
diff --git a/text.txt b/text.txt
index 5555555..6666666 100644
--- a/text.txt
+++ b/text.txt
@@ -1 +1 @@
-Subproject commit 2222222222222222222222222222222222222222
+an ordinary file may say so too
"""


def test_parse_diff_marks_gitlinks_on_either_side() -> None:
    """Added, moved and deleted gitlinks are submodules; a text file quoting one is not."""
    files = parse_diff(GITLINK_DIFF)
    assert [(f.path, f.status, f.submodule) for f in files] == [
        ("vendor/new", "added", True),
        ("vendor/moved", "modified", True),
        ("vendor/gone", "deleted", True),
        ("text.txt", "modified", False),
    ]


def test_unquote_path_undoes_c_quoting() -> None:
    """Escapes and octal UTF-8 bytes come back as the real name; plain names are untouched."""
    assert unquote_path('"a\\\\b\\"c\\td\\303\\251"') == 'a\\b"c\td\u00e9'
    assert unquote_path("plain name.txt") == "plain name.txt"


def test_parse_blame_porcelain_maps_final_lines_to_commits() -> None:
    """Every final line number maps to the sha on its header, boundary lines included."""
    blame = (
        f"{SHA_A} 1 1 1\nauthor a\nboundary\nfilename f\n\tx\n"
        f"{SHA_B} 2 2 2\nauthor a\nprevious {SHA_A} f\nfilename f\n\tY\n"
        f"{SHA_B} 3 3\nauthor a\nfilename f\n\t{SHA_C} 9 9 9\n"
    )
    assert parse_blame_porcelain(blame) == {1: SHA_A, 2: SHA_B, 3: SHA_B}


def test_parse_agent_log_reads_trailers_in_order() -> None:
    """Trailer values map to roles; none → unknown; several → the last."""
    log = f"{SHA_A}\x1fimplement\x1e\n{SHA_B}\x1f\x1e\n{SHA_C}\x1fdocs,test\x1e\n"
    assert list(parse_agent_log(log).items()) == [
        (SHA_A, "implement"),
        (SHA_B, "unknown"),
        (SHA_C, "test"),
    ]


def test_parse_numstat_marks_binary_counts_as_none() -> None:
    """numstat rows parse to counts, with None for binary files."""
    assert parse_numstat("3\t1\ta.py\n-\t-\timg.png\n") == [(3, 1, "a.py"), (None, None, "img.png")]

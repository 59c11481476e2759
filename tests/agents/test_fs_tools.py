"""The agents' file tools: path confinement, the text editor and git grep."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.agents.tools.editor import TextEditor
from bot.agents.tools.paths import resolve_in_worktree
from bot.agents.tools.search import git_grep
from bot.core.globs import glob_matches
from bot.errors import PathRefused, ToolError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A worktree-like directory: files, a `.git` file, a nested repo, links in and out."""
    root = tmp_path / "wt"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("a = 1\nb = 2\nc = 3\n")
    (root / ".git").write_text("gitdir: /srv/mirror/.git/worktrees/wt\n")
    (root / "vendor" / ".git" / "hooks").mkdir(parents=True)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "etc_link").symlink_to("/etc")
    (root / "pkg_link").symlink_to(root / "pkg")
    (root / "workflows_link").symlink_to(".github/workflows")
    (root / "git_link").symlink_to(".git")
    return root


def _view(editor: TextEditor, path: str, **extra: object) -> str:
    return editor.run({"command": "view", "path": path, **extra})


# -- resolve_in_worktree -------------------------------------------------------------------


def test_relative_and_inside_absolute_paths_resolve(tree: Path) -> None:
    """A relative path and an absolute path inside the worktree both name the real file."""
    real = (tree / "pkg" / "mod.py").resolve()
    assert resolve_in_worktree(tree, "pkg/mod.py") == real
    assert resolve_in_worktree(tree, "./pkg//mod.py") == real
    assert resolve_in_worktree(tree, str(tree / "pkg" / "mod.py")) == real
    assert resolve_in_worktree(tree, "pkg/new/file.py") == real.parent / "new" / "file.py"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../x", "`..`"),
        ("a/../../x", "`..`"),
        ("pkg/../pkg/mod.py", "`..`"),
        ("/etc/passwd", "absolute"),
        ("/", "absolute"),
        ("etc_link/passwd", "outside"),
        ("etc_link", "outside"),
        (".git", r"\.git is off limits"),
        (".git/config", r"\.git is off limits"),
        (".GIT/config", r"\.git is off limits"),
        ("vendor/.git/hooks/x", r"\.git is off limits"),
        ("git_link", r"\.git is off limits"),
        ("", "empty"),
    ],
)
def test_escapes_are_refused(tree: Path, path: str, reason: str) -> None:
    """Traversal, absolute paths out, symlinks out and anything in .git are refused."""
    with pytest.raises(PathRefused, match=reason):
        resolve_in_worktree(tree, path)


def test_symlink_that_stays_inside_is_fine(tree: Path) -> None:
    """A link to a directory of the worktree resolves to the real file."""
    assert resolve_in_worktree(tree, "pkg_link/mod.py") == (tree / "pkg" / "mod.py").resolve()


def test_symlink_loop_is_refused(tree: Path) -> None:
    """A symlink loop is refused instead of crashing."""
    (tree / "loop_a").symlink_to("loop_b")
    (tree / "loop_b").symlink_to("loop_a")
    with pytest.raises(PathRefused, match="loop_a"):
        resolve_in_worktree(tree, "loop_a/x")


def test_workflow_writes_are_denied_by_default_but_readable(tree: Path) -> None:
    """.github/workflows is readable, not writable, also through a symlink, unless allowed."""
    ci = (tree / ".github" / "workflows" / "ci.yml").resolve()
    assert resolve_in_worktree(tree, ".github/workflows/ci.yml") == ci
    for path in (".github/workflows/ci.yml", "workflows_link/ci.yml"):
        with pytest.raises(PathRefused, match="not allowed"):
            resolve_in_worktree(tree, path, for_write=True)
    assert resolve_in_worktree(tree, "workflows_link/ci.yml", for_write=True, denied_globs=()) == ci


def test_allowed_write_globs_limit_writes(tree: Path) -> None:
    """With an allow-list, writes outside it are refused and reads are not."""
    allowed = ["docs/**", "**/*.md"]
    resolve_in_worktree(tree, "docs/guide/x.rst", for_write=True, allowed_write_globs=allowed)
    resolve_in_worktree(tree, "pkg/README.md", for_write=True, allowed_write_globs=allowed)
    resolve_in_worktree(tree, "pkg/mod.py", allowed_write_globs=allowed)
    with pytest.raises(PathRefused, match="not allowed for this agent"):
        resolve_in_worktree(tree, "pkg/mod.py", for_write=True, allowed_write_globs=allowed)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (".GitHub/Workflows/ci.yml", "not allowed"),  # one directory on a case-insensitive client
        (".github/workflows./ci.yml", "not allowed"),  # NTFS drops the trailing dot
        (".github/work\u200cflows/ci.yml", "not allowed"),  # HFS+ ignores U+200C
        (".github/workflows", "not allowed"),  # the denied directory itself, as a file
        (".github", "not allowed"),  # its parent, replaced by a file
        (".gitmodules", "submodules are not allowed"),
        ("pkg/.GitModules", "submodules are not allowed"),
        ("pkg/a\nOrchestrate-Agent: docs", "control"),
        ("pkg/\u202eexe.txt", "control"),
        ("pkg/.git./config", r"\.git is off limits"),
        ("pkg/GIT~1/config", r"\.git is off limits"),
    ],
)
def test_resolved_write_policy_refuses(tree: Path, path: str, reason: str) -> None:
    """Writes are refused for denied paths in any spelling, their parents, submodule files and
    names with control characters: the same rules the commit applies."""
    with pytest.raises(PathRefused, match=reason):
        resolve_in_worktree(tree, path, for_write=True)
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match=reason):
        editor.run({"command": "create", "path": path, "file_text": "x\n"})
    assert editor.written == set()


def test_denied_directory_replaced_by_a_symlink_stays_denied(tree: Path) -> None:
    """With `.github/workflows -> ../ci`, writing under it is refused although the real path
    (`ci/...`) is not denied: the path as named counts, and nothing reaches `ci`."""
    (tree / "ci").mkdir()
    (tree / ".github" / "workflows").rmdir()
    (tree / ".github" / "workflows").symlink_to("../ci")
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match="not allowed"):
        editor.run({"command": "create", "path": ".github/workflows/x.yml", "file_text": "on:"})
    assert list((tree / "ci").iterdir()) == []
    editor.run({"command": "create", "path": "ci/notes.txt", "file_text": "fine\n"})


def test_role_globs_apply_to_the_resolved_path_and_submodules_can_be_allowed(tree: Path) -> None:
    """A docs agent cannot write source through a link inside docs; `.gitmodules` is writable
    only when the repository allows submodules."""
    (tree / "docs").mkdir()
    (tree / "docs" / "api").symlink_to("../pkg")
    docs = TextEditor(tree, allowed_write_globs=["docs/**"])
    with pytest.raises(ToolError, match="not allowed for this agent"):
        docs.run({"command": "create", "path": "docs/api/mod2.py", "file_text": "x = 1\n"})
    assert not (tree / "pkg" / "mod2.py").exists()
    TextEditor(tree, allow_submodules=True).run(
        {"command": "create", "path": ".gitmodules", "file_text": "[submodule]\n"}
    )


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


# -- TextEditor: view ----------------------------------------------------------------------


def test_view_file_numbers_lines(tree: Path) -> None:
    """view shows the file like `cat -n`."""
    out = _view(TextEditor(tree), "pkg/mod.py")
    assert out == (
        "Here's the result of running `cat -n` on pkg/mod.py:\n"
        "     1\ta = 1\n     2\tb = 2\n     3\tc = 3\n"
    )


def test_view_range(tree: Path) -> None:
    """view_range picks lines, -1 meaning the end of the file."""
    editor = TextEditor(tree)
    assert _view(editor, "pkg/mod.py", view_range=[2, -1]).endswith(
        "     2\tb = 2\n     3\tc = 3\n"
    )
    assert _view(editor, "pkg/mod.py", view_range=[2, 2]).endswith(":\n     2\tb = 2\n")


@pytest.mark.parametrize(
    ("view_range", "message"),
    [([0, 2], "first element"), ([2, 9], "second element"), ([3, 2], "second"), ([1], "two")],
)
def test_view_range_errors(tree: Path, view_range: list[int], message: str) -> None:
    """A range outside the file or malformed is an error naming the problem."""
    with pytest.raises(ToolError, match=message):
        _view(TextEditor(tree), "pkg/mod.py", view_range=view_range)


def test_view_directory_lists_two_levels_without_hidden(tree: Path) -> None:
    """A directory lists two levels, hidden entries (.git, .github) left out."""
    (tree / "pkg" / "sub" / "deep").mkdir()
    (tree / "pkg" / "sub" / "leaf.py").write_text("")
    out = _view(TextEditor(tree), "pkg")
    assert out.splitlines()[1:] == ["pkg/mod.py", "pkg/sub/", "pkg/sub/deep/", "pkg/sub/leaf.py"]
    root_listing = _view(TextEditor(tree), ".")
    assert "pkg/sub/" in root_listing and "pkg/sub/deep/" not in root_listing
    assert ".git" not in root_listing.split(":", 1)[1]


def test_view_errors(tree: Path) -> None:
    """Missing files, binary files and paths out of the worktree are tool errors."""
    (tree / "blob.bin").write_bytes(b"\x00\x01")
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match="does not exist"):
        _view(editor, "nope.py")
    with pytest.raises(ToolError, match="binary"):
        _view(editor, "blob.bin")
    with pytest.raises(ToolError, match="outside"):
        _view(editor, "etc_link/passwd")
    with pytest.raises(ToolError, match=r"\.git is off limits"):
        _view(editor, ".git")


def test_view_truncates_long_files(tree: Path) -> None:
    """A file longer than max_view_chars is cut at a line with a hint to use view_range."""
    (tree / "long.txt").write_text("".join(f"line {i}\n" for i in range(1000)))
    out = _view(TextEditor(tree, max_view_chars=200), "long.txt")
    assert "     1\tline 0\n" in out and "line 999" not in out
    assert out.endswith("the file has 1000 lines: use view_range to see the rest]\n")


# -- TextEditor: create, str_replace, insert -----------------------------------------------


def test_create_writes_file_and_parents(tree: Path) -> None:
    """create makes parent directories, overwrites on a second call, and records the write."""
    editor = TextEditor(tree)
    first = editor.run({"command": "create", "path": "new/dir/x.py", "file_text": "x = 1\n"})
    again = editor.run({"command": "create", "path": "new/dir/x.py", "file_text": "x = 2\n"})
    assert first == "File created successfully at: new/dir/x.py"
    assert again == "File overwritten successfully at: new/dir/x.py"
    assert (tree / "new" / "dir" / "x.py").read_text() == "x = 2\n"
    assert editor.written == {"new/dir/x.py"}


def test_create_errors(tree: Path) -> None:
    """create needs file_text and a file path."""
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match="`file_text` is required"):
        editor.run({"command": "create", "path": "x.py"})
    with pytest.raises(ToolError, match="is a directory"):
        editor.run({"command": "create", "path": "pkg", "file_text": ""})
    assert editor.written == set()


def test_str_replace_replaces_once_and_shows_snippet(tree: Path) -> None:
    """A unique old_str is replaced; the answer shows the edited lines numbered."""
    editor = TextEditor(tree)
    out = editor.run(
        {"command": "str_replace", "path": "pkg/mod.py", "old_str": "b = 2", "new_str": "b = 20"}
    )
    assert (tree / "pkg" / "mod.py").read_text() == "a = 1\nb = 20\nc = 3\n"
    assert out.startswith("The file pkg/mod.py has been edited.")
    assert "     2\tb = 20\n" in out
    assert editor.written == {"pkg/mod.py"}


def test_str_replace_without_new_str_deletes(tree: Path) -> None:
    """Omitting new_str deletes old_str."""
    TextEditor(tree).run({"command": "str_replace", "path": "pkg/mod.py", "old_str": "b = 2\n"})
    assert (tree / "pkg" / "mod.py").read_text() == "a = 1\nc = 3\n"


def test_str_replace_errors(tree: Path) -> None:
    """No match and several matches are errors; multiple matches name their lines."""
    (tree / "dup.py").write_text("x = 1\ny = 2\nx = 1\n")
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match=r"did not appear verbatim in dup\.py"):
        editor.run({"command": "str_replace", "path": "dup.py", "old_str": "z", "new_str": ""})
    with pytest.raises(ToolError, match=r"Multiple occurrences of old_str in lines \[1, 3\]"):
        editor.run({"command": "str_replace", "path": "dup.py", "old_str": "x = 1", "new_str": ""})
    with pytest.raises(ToolError, match="does not exist"):
        editor.run({"command": "str_replace", "path": "no.py", "old_str": "x", "new_str": ""})
    assert (tree / "dup.py").read_text() == "x = 1\ny = 2\nx = 1\n"
    assert editor.written == set()


def test_str_replace_keeps_crlf_line_ends(tree: Path) -> None:
    """A CRLF file is matched with LF text and written back with CRLF."""
    (tree / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    TextEditor(tree).run(
        {"command": "str_replace", "path": "win.txt", "old_str": "one\ntwo", "new_str": "1\n2"}
    )
    assert (tree / "win.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (0, "new\na = 1\nb = 2\nc = 3\n"),
        (2, "a = 1\nb = 2\nnew\nc = 3\n"),
        (3, "a = 1\nb = 2\nc = 3\nnew\n"),
    ],
)
def test_insert_after_line(tree: Path, line: int, expected: str) -> None:
    """insert puts insert_text after insert_line (0: at the top)."""
    editor = TextEditor(tree)
    out = editor.run(
        {"command": "insert", "path": "pkg/mod.py", "insert_line": line, "insert_text": "new\n"}
    )
    assert (tree / "pkg" / "mod.py").read_text() == expected
    assert f"{line + 1:6}\tnew\n" in out


def test_insert_accepts_legacy_new_str_and_checks_line(tree: Path) -> None:
    """insert also takes `new_str` (older tool versions); a line past the end is an error."""
    editor = TextEditor(tree)
    editor.run({"command": "insert", "path": "pkg/mod.py", "insert_line": 1, "new_str": "x"})
    assert (tree / "pkg" / "mod.py").read_text() == "a = 1\nx\nb = 2\nc = 3\n"
    with pytest.raises(ToolError, match=r"range of lines of the file: \[0, 4\]"):
        editor.run(
            {"command": "insert", "path": "pkg/mod.py", "insert_line": 9, "insert_text": "y"}
        )
    with pytest.raises(ToolError, match="`insert_text` is required"):
        editor.run({"command": "insert", "path": "pkg/mod.py", "insert_line": 1})


def test_unknown_command_and_bad_types(tree: Path) -> None:
    """undo_edit is not in this tool version; wrong parameter types are errors."""
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match="Unrecognized command undo_edit"):
        editor.run({"command": "undo_edit", "path": "pkg/mod.py"})
    with pytest.raises(ToolError, match="`path` is required"):
        editor.run({"command": "view"})
    with pytest.raises(ToolError, match="must be of type int"):
        editor.run(
            {"command": "insert", "path": "pkg/mod.py", "insert_line": "1", "insert_text": ""}
        )


def test_workflow_file_write_is_refused(tree: Path) -> None:
    """Creating .github/workflows/ci.yml is refused and nothing is written."""
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match="not allowed"):
        editor.run({"command": "create", "path": ".github/workflows/ci.yml", "file_text": "on:"})
    assert not (tree / ".github" / "workflows" / "ci.yml").exists()
    assert editor.written == set()


def test_write_guard_sees_relative_path_and_can_veto(tree: Path) -> None:
    """The write guard gets the worktree-relative real path and its refusal stops the write."""
    seen: list[str] = []

    def guard(path: str) -> None:
        seen.append(path)
        if path.startswith("pkg/"):
            raise PathRefused(f"{path}: owned by the implement agent")

    editor = TextEditor(tree, write_guard=guard)
    editor.run({"command": "create", "path": "docs.md", "file_text": "hi\n"})
    with pytest.raises(ToolError, match="owned by the implement agent"):
        editor.run(
            {"command": "str_replace", "path": "pkg_link/mod.py", "old_str": "a", "new_str": "b"}
        )
    assert seen == ["docs.md", "pkg/mod.py"]
    assert (tree / "pkg" / "mod.py").read_text() == "a = 1\nb = 2\nc = 3\n"


def test_tool_param_names_the_tool_version(tree: Path) -> None:
    """The tool definition uses the 20250728 type, its fixed name and the view limit."""
    assert TextEditor(tree, max_view_chars=5000).tool_param() == {
        "type": "text_editor_20250728",
        "name": "str_replace_based_edit_tool",
        "max_characters": 5000,
    }


# -- git_grep ------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with tracked, untracked and ignored files."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return helper(1)\n")
    (root / "src" / "util.py").write_text("def helper(x):\n    return x  # --version\n")
    (root / "README.md").write_text("Call helper(x) from main.\n")
    (root / ".gitignore").write_text("ignored.txt\n")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True, env=env)
    (root / "src" / "new.py").write_text("helper(2)\n")
    (root / "ignored.txt").write_text("helper(3)\n")
    return root


async def test_grep_finds_tracked_and_untracked_not_ignored(repo: Path) -> None:
    """Matches come as path:line:text from tracked and new files, never ignored ones."""
    out = await git_grep(repo, r"helper\(")
    assert out.splitlines() == [
        "README.md:1:Call helper(x) from main.",
        "src/app.py:2:    return helper(1)",
        "src/new.py:1:helper(2)",
        "src/util.py:1:def helper(x):",
    ]


async def test_grep_path_glob_and_fixed_string(repo: Path) -> None:
    """A path glob narrows the search; a fixed string is not a regex."""
    assert await git_grep(repo, "helper", path_glob="**/*.md") == (
        "README.md:1:Call helper(x) from main.\n"
    )
    assert await git_grep(repo, "helper(x)", fixed_string=True, path_glob="src/*") == (
        "src/util.py:1:def helper(x):\n"
    )


async def test_grep_pattern_is_never_an_option(repo: Path) -> None:
    """A pattern that looks like an option is searched for, not obeyed."""
    assert await git_grep(repo, "--version") == "src/util.py:2:    return x  # --version\n"


async def test_grep_no_matches_and_git_dir_not_searched(repo: Path) -> None:
    """No match says so; .git's own files are not searched."""
    assert await git_grep(repo, "no_such_name_anywhere") == "no matches"
    assert await git_grep(repo, "repositoryformatversion") == "no matches"


async def test_grep_caps_results(repo: Path) -> None:
    """More matches than max_results are cut with a marker."""
    out = await git_grep(repo, "helper", max_results=2)
    assert out.splitlines()[:2] == [
        "README.md:1:Call helper(x) from main.",
        "src/app.py:2:    return helper(1)",
    ]
    assert out.endswith("[... more than 2 matches]\n")


async def test_grep_errors(repo: Path) -> None:
    """A bad regex, an empty pattern and globs leaving the repository are tool errors."""
    with pytest.raises(ToolError, match="git grep failed"):
        await git_grep(repo, "(unclosed")
    with pytest.raises(ToolError, match="empty"):
        await git_grep(repo, "")
    for glob in ("../*", "/etc/*"):
        with pytest.raises(ToolError, match="relative to the repository"):
            await git_grep(repo, "x", path_glob=glob)

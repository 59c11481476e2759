"""The text editor tool: view, create, str_replace, insert, and their errors."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bot.agents.tools.editor import TextEditor
from bot.errors import PathRefused, ToolError


def view(editor: TextEditor, path: str, **extra: object) -> str:
    return editor.run({"command": "view", "path": path, **extra})


def test_view_file_numbers_lines(tree: Path) -> None:
    """view shows the file like `cat -n`."""
    out = view(TextEditor(tree), "pkg/mod.py")
    assert out == (
        "Here's the result of running `cat -n` on pkg/mod.py:\n"
        "     1\ta = 1\n     2\tb = 2\n     3\tc = 3\n"
    )


def test_view_range(tree: Path) -> None:
    """view_range picks lines, -1 meaning the end of the file."""
    editor = TextEditor(tree)
    assert view(editor, "pkg/mod.py", view_range=[2, -1]).endswith("     2\tb = 2\n     3\tc = 3\n")
    assert view(editor, "pkg/mod.py", view_range=[2, 2]).endswith(":\n     2\tb = 2\n")


@pytest.mark.parametrize(
    ("view_range", "message"),
    [([0, 2], "first element"), ([2, 9], "second element"), ([3, 2], "second"), ([1], "two")],
)
def test_view_range_errors(tree: Path, view_range: list[int], message: str) -> None:
    """A range outside the file or malformed is an error naming the problem."""
    with pytest.raises(ToolError, match=message):
        view(TextEditor(tree), "pkg/mod.py", view_range=view_range)


def test_view_directory_lists_two_levels_without_hidden(tree: Path) -> None:
    """A directory lists two levels, hidden entries (.git, .github) left out."""
    (tree / "pkg" / "sub" / "deep").mkdir()
    (tree / "pkg" / "sub" / "leaf.py").write_text("")
    out = view(TextEditor(tree), "pkg")
    assert out.splitlines()[1:] == ["pkg/mod.py", "pkg/sub/", "pkg/sub/deep/", "pkg/sub/leaf.py"]
    root_listing = view(TextEditor(tree), ".")
    assert "pkg/sub/" in root_listing and "pkg/sub/deep/" not in root_listing
    assert ".git" not in root_listing.split(":", 1)[1]


def test_view_errors(tree: Path) -> None:
    """Missing files, binary files and paths out of the worktree are tool errors."""
    (tree / "blob.bin").write_bytes(b"\x00\x01")
    editor = TextEditor(tree)
    with pytest.raises(ToolError, match="does not exist"):
        view(editor, "nope.py")
    with pytest.raises(ToolError, match="binary"):
        view(editor, "blob.bin")
    with pytest.raises(ToolError, match="outside"):
        view(editor, "etc_link/passwd")
    with pytest.raises(ToolError, match=r"\.git is off limits"):
        view(editor, ".git")


def test_view_truncates_long_files(tree: Path) -> None:
    """A file longer than max_view_chars is cut at a line with a hint to use view_range."""
    (tree / "long.txt").write_text("".join(f"line {i}\n" for i in range(1000)))
    out = view(TextEditor(tree, max_view_chars=200), "long.txt")
    assert "     1\tline 0\n" in out and "line 999" not in out
    assert out.endswith("the file has 1000 lines: use view_range to see the rest]\n")


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


@pytest.mark.parametrize("command", ["view", "create", "str_replace", "insert"])
def test_special_files_are_refused_without_being_opened(tree: Path, command: str) -> None:
    """A FIFO (opening it would block), a socket, and a FIFO reached through a link are refused
    by every command, saying what they are; they are left as they were."""
    os.mkfifo(tree / "pkg" / "trap")
    (tree / "pkg" / "trap_link").symlink_to("trap")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tree / "pkg" / "sock"))
        for name, kind in [("trap", "a FIFO"), ("trap_link", "a FIFO"), ("sock", "a socket")]:
            call = {"command": command, "path": f"pkg/{name}", "file_text": "y",
                    "old_str": "x", "new_str": "y", "insert_line": 0, "insert_text": "y"}  # fmt: skip
            with pytest.raises(ToolError, match=f"pkg/{name} is {kind}, not a regular file"):
                TextEditor(tree).run(call)
    assert (tree / "pkg" / "trap").is_fifo() and (tree / "pkg" / "sock").is_socket()


def test_a_write_replaces_the_file_never_writing_through_a_hard_link(tree: Path) -> None:
    """An edit makes a new file under the name (its mode kept): a hard link to the old one,
    here standing for any other name of it, keeps the old content."""
    target = tree / "pkg" / "mod.py"
    target.chmod(0o755)
    os.link(target, tree / "other_name.py")
    editor = TextEditor(tree)

    editor.run(
        {"command": "str_replace", "path": "pkg/mod.py", "old_str": "a = 1", "new_str": "a = 9"}
    )

    assert target.read_text().startswith("a = 9\n") and target.stat().st_mode & 0o777 == 0o755
    assert (tree / "other_name.py").read_text().startswith("a = 1\n")
    assert sorted(p.name for p in (tree / "pkg").iterdir()) == ["mod.py", "sub"]  # no temp left


def test_a_file_over_the_size_limit_is_refused(tree: Path) -> None:
    """A file over the editor's limit is not read."""
    (tree / "big.txt").write_bytes(b"a" * (4 * 1024 * 1024 + 1))
    with pytest.raises(ToolError, match=r"big\.txt is larger than 4194304 bytes"):
        view(TextEditor(tree), "big.txt")

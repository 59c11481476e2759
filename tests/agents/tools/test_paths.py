"""Path confinement: what resolves inside the worktree, and every write the policy refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.agents.tools.editor import TextEditor
from bot.agents.tools.paths import resolve_in_worktree
from bot.errors import PathRefused, ToolError


def test_relative_and_inside_absolute_paths_resolve(tree: Path) -> None:
    """A relative path and an absolute path inside the worktree both name the real file."""
    real = (tree / "pkg" / "mod.py").resolve()
    assert resolve_in_worktree(tree, "pkg/mod.py") == real
    assert resolve_in_worktree(tree, "./pkg//mod.py") == real
    assert resolve_in_worktree(tree, str(tree / "pkg" / "mod.py")) == real
    assert resolve_in_worktree(tree, "pkg/new/file.py") == real.parent / "new" / "file.py"


def test_workspace_paths_name_the_worktree(tree: Path) -> None:
    """/workspace/... (where `run` commands see the worktree) names the worktree's files; a
    path that only starts like it, or climbs out of it, is refused."""
    real = (tree / "pkg" / "mod.py").resolve()
    assert resolve_in_worktree(tree, "/workspace/pkg/mod.py") == real
    assert resolve_in_worktree(tree, "/workspace") == tree.resolve()
    for path, reason in [
        ("/workspace2/pkg/mod.py", "absolute"),
        ("/workspace/../etc/passwd", "`..`"),
        ("/workspace/.git/config", r"\.git is off limits"),
        ("/workspace/etc_link/passwd", "outside"),
    ]:
        with pytest.raises(PathRefused, match=reason):
            resolve_in_worktree(tree, path)


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

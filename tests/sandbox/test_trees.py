"""What the host does with directory trees a sandbox wrote: any depth, mode and kind of entry
walked and deleted without recursion, long paths or following a link."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bot.sandbox.env_disk import disk_usage
from bot.sandbox.trees import Cursor, delete_tree, remove_below, walk_tree
from tests.support.trees import DEPTH, deep_tree

pytestmark = pytest.mark.usefixtures("leave_no_deep_tree")


def test_delete_tree_removes_any_depth_mode_and_kind_without_following_links(
    hostile: Path,
) -> None:
    """A tree deeper than the recursion limit and PATH_MAX, with read-only and locked
    directories, a FIFO, a socket and links, is deleted; what the links point to is not."""
    deep_tree(hostile)
    assert sys.getrecursionlimit() < DEPTH

    delete_tree(hostile)

    assert not os.path.lexists(hostile)
    assert (hostile.parent / "outside" / "keep").read_text() == "keep"


def test_delete_tree_takes_a_link_or_a_file_itself_and_a_missing_path(tmp_path: Path) -> None:
    """A link is deleted, never its target; a missing path is fine."""
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep").write_text("keep")
    (tmp_path / "link").symlink_to("target")

    delete_tree(tmp_path / "link")
    delete_tree(tmp_path / "missing")
    delete_tree(tmp_path / "missing" / "too")

    assert not os.path.lexists(tmp_path / "link")
    assert (tmp_path / "target" / "keep").read_text() == "keep"


def test_remove_below_stops_at_a_linked_parent(hostile: Path) -> None:
    """A path through a link names nothing to remove (the link's target is kept); a path of
    plain directories is removed, tree and all."""
    remove_below(hostile, "dir_link/file.txt")
    remove_below(hostile, "link_out/keep")
    assert (hostile / "dir" / "file.txt").exists()
    assert (hostile.parent / "outside" / "keep").exists()

    deep_tree(hostile / "dir")
    remove_below(hostile, "dir")
    remove_below(hostile, "trap")

    assert not os.path.lexists(hostile / "dir") and not os.path.lexists(hostile / "trap")


def test_walk_tree_sees_every_directory_once_at_any_depth(tmp_path: Path) -> None:
    """Every directory is visited once with its path from the top (even past PATH_MAX); a
    linked directory is an entry, never entered."""
    deep_tree(tmp_path)
    (tmp_path / "side").mkdir()
    (tmp_path / "side_link").symlink_to("side")
    seen: list[str] = []

    def visit(cursor: Cursor, entries: list[os.DirEntry[str]]) -> list[str]:
        seen.append(cursor.relative("."))
        return [e.name for e in entries if e.is_dir(follow_symlinks=False)]

    walk_tree(tmp_path, visit)

    assert len(seen) == DEPTH + 2 and len(set(seen)) == len(seen)
    assert max(len(path) for path in seen) > 4096
    assert not any(path.startswith("side_link") for path in seen)


def test_disk_usage_counts_files_past_path_max(tmp_path: Path) -> None:
    """The disk measure counts every directory of a tree too deep to name by path, and the
    file at its bottom."""
    (tmp_path / "empty").mkdir()
    one_directory = os.lstat(tmp_path / "empty").st_blocks * 512
    before = disk_usage(tmp_path)
    deep_tree(tmp_path, leaf_bytes=1024 * 1024)

    assert disk_usage(tmp_path) - before >= DEPTH * one_directory + 1024 * 1024

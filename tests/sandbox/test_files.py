"""What the host does with files a sandbox wrote: special files refused unopened, links never
followed, reads capped, writes by rename, trees of any depth walked and deleted without
recursion or long paths."""

from __future__ import annotations

import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import FileRefused
from bot.sandbox.env_disk import disk_usage
from bot.sandbox.files import (
    Cursor,
    delete_tree,
    read_regular,
    remove_below,
    walk_tree,
    write_regular,
)

# Deeper than the interpreter's recursion limit, and longer from the top than PATH_MAX (4096).
DEPTH = 3000


def deep_tree(top: Path, depth: int = DEPTH, name: str = "d", leaf_bytes: int = 5000) -> None:
    """`depth` nested directories with a file at the bottom, made without ever naming a long
    path (as `mkdir -p` does in the sandbox)."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, b"x" * leaf_bytes)
    os.close(leaf)
    os.close(fd)


@pytest.fixture(autouse=True)
def _leave_no_deep_tree(tmp_path: Path) -> Iterator[None]:
    """pytest's own clean-up of old temporary directories is recursive: deep trees go here."""
    yield
    for child in tmp_path.iterdir():
        delete_tree(child)


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Path]:
    """A tree as a hostile command leaves it: a FIFO, a bound socket, links out and in, a
    read-only directory, a directory without permissions, and a file outside it."""
    root = tmp_path / "tree"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "file.txt").write_text("hello\n")
    os.mkfifo(root / "trap")
    (root / "link_out").symlink_to(tmp_path / "outside")
    (root / "dir_link").symlink_to("dir")
    (root / "file_link").symlink_to("dir/file.txt")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep").write_text("keep")
    (root / "ro" / "sub").mkdir(parents=True)
    (root / "ro" / "sub" / "f").write_text("x")
    (root / "ro" / "sub").chmod(0o500)
    (root / "ro").chmod(0o500)
    (root / "locked").mkdir()
    (root / "locked" / "f").write_text("x")
    (root / "locked").chmod(0)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / "sock"))
        yield root


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("trap", FileRefused, "is a FIFO, not a regular file"),
        ("sock", FileRefused, "is a socket, not a regular file"),
        ("file_link", FileRefused, "is a symbolic link, not a regular file"),
        ("dir_link/file.txt", FileRefused, "has a parent that is a link or not a directory"),
        ("link_out/keep", FileRefused, "has a parent that is a link or not a directory"),
        ("dir/file.txt/x", FileRefused, "has a parent that is a link or not a directory"),
        ("dir", IsADirectoryError, "is a directory"),
        ("missing", FileNotFoundError, "No such file"),
        ("../outside/keep", FileRefused, "is not a path below the root"),
    ],
)
def test_read_refuses_all_but_a_regular_file_below_the_root(
    hostile: Path, name: str, error: type[Exception], message: str
) -> None:
    """Special files, links (last or on the way), directories and escapes are refused, each
    saying what it is; nothing blocks (a FIFO would)."""
    with pytest.raises(error, match=message):
        read_regular(hostile, name, 100)


def test_read_returns_a_regular_file_and_caps_its_size(hostile: Path) -> None:
    """A regular file is read whole; one over the cap is refused."""
    assert read_regular(hostile, "dir/file.txt", 6) == b"hello\n"
    with pytest.raises(FileRefused, match="is larger than 5 bytes"):
        read_regular(hostile, "dir/file.txt", 5)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("trap", FileRefused),
        ("sock", FileRefused),
        ("file_link", FileRefused),
        ("dir_link/new.txt", FileRefused),
        ("link_out/keep", FileRefused),
        ("dir", IsADirectoryError),
    ],
)
def test_write_never_goes_through_a_special_file_or_a_link(
    hostile: Path, name: str, error: type[Exception]
) -> None:
    """A write to a FIFO, a socket, a link or through a linked directory is refused and
    changes nothing (the file outside keeps its content, the FIFO stays a FIFO)."""
    with pytest.raises(error):
        write_regular(hostile, name, b"new", make_parents=True)
    assert (hostile.parent / "outside" / "keep").read_text() == "keep"
    assert stat.S_ISFIFO(os.lstat(hostile / "trap").st_mode)
    assert not (hostile / "dir" / "new.txt").exists()


def test_write_creates_parents_and_replaces_by_rename(hostile: Path) -> None:
    """A new file gets its parents; an old one is replaced by a new inode with its mode."""
    assert write_regular(hostile, "new/deeper/a.txt", b"a", make_parents=True) is False
    old = hostile / "dir" / "file.txt"
    old.chmod(0o751)
    inode = old.stat().st_ino

    assert write_regular(hostile, "dir/file.txt", b"b") is True

    assert (hostile / "new" / "deeper" / "a.txt").read_bytes() == b"a"
    assert old.read_bytes() == b"b" and old.stat().st_ino != inode
    assert stat.S_IMODE(old.stat().st_mode) == 0o751
    assert sorted(os.listdir(hostile / "dir")) == ["file.txt"]


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

"""What the host does with one file a sandbox wrote: special files refused unopened, links
never followed, reads capped, writes by rename."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.errors import FileRefused
from bot.sandbox.files import read_regular, write_regular

pytestmark = pytest.mark.usefixtures("leave_no_deep_tree")


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

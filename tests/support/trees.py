"""Trees as a hostile sandboxed command leaves them, for the tests of what the host does with
them (sandbox/files.py, sandbox/trees.py)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def hostile_tree(tmp_path: Path) -> Iterator[Path]:
    """`tmp_path/tree` as a hostile command leaves it: a FIFO, a bound socket, links out and
    in, a read-only directory, a directory without permissions; and `tmp_path/outside/keep`,
    which links point to."""
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

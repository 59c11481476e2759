"""Linux /proc helpers for the worker harness: a process's descendants (git and the sandbox run in
process groups of their own, so a group kill misses them), and which process holds a TCP port."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PROC = Path("/proc")


def parents() -> dict[int, int]:
    """pid → parent pid of every process visible now."""
    found: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            found[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return found


def descendants(pid: int, tree: dict[int, int] | None = None) -> list[int]:
    """Every process below `pid` (children first level first), from one snapshot of /proc."""
    tree = parents() if tree is None else tree
    children: dict[int, list[int]] = {}
    for child, parent in tree.items():
        children.setdefault(parent, []).append(child)
    found, frontier = [], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, [])]
        found.extend(frontier)
    return found


def kill_tree(pid: int) -> list[int]:
    """SIGKILL `pid`, its process group and every descendant (snapshot taken first, so none is
    lost to re-parenting); returns the pids signalled."""
    below = descendants(pid)
    for target in (pid, *below):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return [pid, *below]


def alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def socket_inode(local_port: int) -> int | None:
    """The inode of the TCP socket bound locally to `local_port` (loopback clients included)."""
    for table in ("net/tcp", "net/tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port and fields[9] != "0":
                    return int(fields[9])
    return None


def holder_of_port(local_port: int, candidates: list[int]) -> int | None:
    """Which of `candidates` (pids) holds the socket on `local_port`, or None."""
    inode = socket_inode(local_port)
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for pid in candidates:
        fds = PROC / str(pid) / "fd"
        with contextlib.suppress(OSError):
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == wanted:
                        return pid
    return None

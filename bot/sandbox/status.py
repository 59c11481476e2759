"""bwrap's own account of a sandbox (`--json-status-fd`): the pid of its init, and whether the
command was started at all.

bwrap's monitor, outside the sandbox's pid namespace, writes one JSON object per line: first
`{"child-pid": N, ...}` once the namespaces exist, and `{"exit-code": N}` when the command
exits, but only if the sandbox was fully set up and the command was executed (bwrap learns
that from a close-on-exec pipe of its own). Nothing inside the sandbox holds this descriptor, so
no sandboxed code can write here: whether "the sandbox could not start" is decided from this
alone, never from output, which sandboxed code can forge.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

__all__ = ["StatusPipe"]

_MAX_STATUS_BYTES = 65536  # a few short lines; anything more is not bwrap's


class StatusPipe:
    """The read end of bwrap's status pipe (non-blocking), and what was read from it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._data = bytearray()
        os.set_blocking(fd, False)

    def read(self) -> None:
        """Take in what bwrap wrote so far (never blocks)."""
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while len(self._data) < _MAX_STATUS_BYTES:
                chunk = os.read(self.fd, _MAX_STATUS_BYTES)
                if not chunk:
                    return
                self._data += chunk

    @property
    def child_pid(self) -> int | None:
        """The host pid of the sandbox's init (pid 1 inside), once bwrap created it."""
        value = self._first("child-pid")
        return value if isinstance(value, int) and value > 0 else None

    @property
    def command_started(self) -> bool:
        """Whether the sandbox was set up and the command executed (and has exited)."""
        return isinstance(self._first("exit-code"), int)

    def _first(self, key: str) -> Any:
        for line in bytes(self._data).splitlines():
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if isinstance(found, dict) and key in found:
                return found[key]
        return None

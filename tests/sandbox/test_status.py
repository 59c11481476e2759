"""bwrap's status pipe, read: the init's pid, and whether the command was started."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.sandbox.status import StatusPipe


@pytest.fixture
def pipe() -> Iterator[tuple[StatusPipe, int]]:
    read_end, write_end = os.pipe()
    yield StatusPipe(read_end), write_end
    os.close(read_end)
    os.close(write_end)


def test_nothing_written_means_not_started(pipe: tuple[StatusPipe, int]) -> None:
    """An empty pipe (bwrap failed before its namespaces existed) is read without blocking."""
    status, _ = pipe
    status.read()
    assert status.child_pid is None and not status.command_started


def test_the_child_pid_alone_means_not_started(pipe: tuple[StatusPipe, int]) -> None:
    """bwrap wrote the init's pid, then failed to set the sandbox up: not started."""
    status, write_end = pipe
    os.write(write_end, b'{ "child-pid": 4242, "pid-namespace": 1 }\n')
    status.read()
    assert status.child_pid == 4242 and not status.command_started


def test_an_exit_code_means_the_command_ran(pipe: tuple[StatusPipe, int]) -> None:
    """The exit code comes in a second line, possibly in a later read."""
    status, write_end = pipe
    os.write(write_end, b'{ "child-pid": 4242 }\n{ "exit-')
    status.read()
    assert not status.command_started
    os.write(write_end, b'code": 1 }\n')
    status.read()
    assert status.command_started


@pytest.mark.parametrize(
    "written", [b"garbage\n", b'{"child-pid": "1"}\n', b'{"exit-code": "0"}\n', b"[1]\n"]
)
def test_malformed_lines_count_for_nothing(pipe: tuple[StatusPipe, int], written: bytes) -> None:
    """Lines that are not bwrap's objects are ignored."""
    status, write_end = pipe
    os.write(write_end, written)
    status.read()
    assert status.child_pid is None and not status.command_started

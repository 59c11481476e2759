"""The worker's tools for setups: the base interpreter and its bundled pip wheel, and only
package managers a sandbox can run (under /usr, /bin or the base installation)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.sandbox import worker_tools as tools_module
from bot.sandbox.worker_tools import worker_tools


def test_the_interpreter_is_the_base_one_with_its_pip_wheel() -> None:
    """Never the app's virtualenv: the base interpreter, its version, the ensurepip wheel."""
    tools = worker_tools()
    assert Path(tools.python).is_relative_to(sys.base_prefix)
    assert not Path(tools.python).is_relative_to(sys.prefix) or sys.prefix == sys.base_prefix
    assert tools.python_version == ".".join(map(str, sys.version_info[:3]))
    assert tools.pip_wheel is not None and tools.pip_wheel.endswith(".whl")
    assert Path(tools.pip_wheel).is_file()


def test_tools_a_sandbox_cannot_see_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A uv under /opt (or the app's venv) is not offered; npm under /usr is."""
    outside = tmp_path / "bin"
    outside.mkdir()
    for name in ("uv", "poetry"):
        (outside / name).write_text("#!/bin/sh\n")
        (outside / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{outside}:/usr/bin:/bin")
    worker_tools.cache_clear()
    try:
        tools = worker_tools()
    finally:
        worker_tools.cache_clear()
    assert "uv" not in tools.paths and "poetry" not in tools.paths
    if Path("/usr/bin/npm").exists():
        assert tools.paths["npm"] == "/usr/bin/npm"
    assert tools_module._visible_inside("/usr/bin/git")
    assert not tools_module._visible_inside(str(outside / "uv"))

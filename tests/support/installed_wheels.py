"""Wheels rebuilt from distributions installed in the test environment (pytest and what it
needs), so the local package index can serve a real test runner with no network: a fixture
project that lists `pytest` installs it from the index as from PyPI."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import re
import zipfile
from dataclasses import dataclass

# pytest and its dependencies on this interpreter (markers for older Pythons and Windows out).
PYTEST_DISTS = ("pytest", "iniconfig", "packaging", "pluggy", "pygments")
_LEFT_OUT = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class BuiltWheel:
    project: str  # PEP 503 normalized
    filename: str
    data: bytes
    requires_python: str | None


def installed_wheel(name: str) -> BuiltWheel:
    """A py3-none-any wheel of the installed distribution `name`: its files in site-packages
    (no bytecode, no scripts: pip makes those from entry_points.txt) and a new RECORD."""
    dist = importlib.metadata.distribution(name)
    stem = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    info = f"{stem}-{dist.version}.dist-info"
    files: dict[str, bytes] = {}
    for path in dist.files or ():
        posix = path.as_posix()
        if ".." in path.parts or "__pycache__" in path.parts or posix.endswith(".pyc"):
            continue
        if posix.startswith(info + "/") and path.name in _LEFT_OUT:
            continue
        files[posix] = path.read_binary()
    record = [f"{p},sha256={_digest(data)},{len(data)}" for p, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, _EPOCH), data)
    project = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    filename = f"{stem}-{dist.version}-py3-none-any.whl"
    return BuiltWheel(project, filename, buffer.getvalue(), dist.metadata["Requires-Python"])


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

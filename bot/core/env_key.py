"""The cache key of an environment: one hash over everything that defines it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

__all__ = ["environment_key"]


def environment_key(
    *,
    files: Mapping[str, bytes],
    steps: Sequence[str],
    interpreter: str,
    allow: Sequence[str],
    extra: Mapping[str, str] | None = None,
) -> str:
    """sha256 over everything that defines an environment, each field length-prefixed so no
    two different inputs hash alike: file names and contents, setup steps, interpreter
    version, egress allow-list (order-insensitive), and anything else the caller adds."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(label.encode() + len(data).to_bytes(8, "big") + data)

    feed("format", b"1")
    for name in sorted(files):
        feed("file", name.encode())
        feed("content", files[name])
    for step in steps:
        feed("step", step.encode())
    feed("interpreter", interpreter.encode())
    for entry in sorted(allow):
        feed("allow", entry.encode())
    for name, value in sorted((extra or {}).items()):
        feed("extra", f"{name}={value}".encode())
    return digest.hexdigest()

"""A revision's manifests as detection uses them (pure, no I/O): `read_manifests` parses the
texts of `READ_FILES` (bot/core/env_manifests.py) into a `Manifests`, which travels as plain
JSON data (`manifests_to_data`, `manifests_from_data`).

Parsing repository text can cost far more than its size (tomllib is quadratic on one long
dotted key), so the worker never calls `read_manifests` itself: a short-lived child process
with its own CPU, memory and time limits does (bot/sandbox/manifest_child.py). A parse that
did not finish within them is `unreadable_manifests`: every file sent is treated like an
invalid one, with a note saying why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.core.env_manifests import (
    NodeManifest,
    PythonManifest,
    read_node_manifest,
    read_python_manifest,
    too_large_note,
)

__all__ = [
    "READ_FILES",
    "Manifests",
    "manifests_from_data",
    "manifests_to_data",
    "read_manifests",
    "unreadable_manifests",
]

# The manifests whose text detection parses; the only repository files the worker reads.
READ_FILES = ("pyproject.toml", "setup.cfg", "package.json")
_PYTHON_FILES = ("pyproject.toml", "setup.cfg")
_M = TypeVar("_M", PythonManifest, NodeManifest)


@dataclass(frozen=True)
class Manifests:
    python: PythonManifest = field(default_factory=PythonManifest)
    node: NodeManifest = field(default_factory=NodeManifest)


def read_manifests(texts: Mapping[str, str | None], has_setup_py: bool) -> Manifests:
    """`texts`: the READ_FILES the repository has, name to text (None: too large to read)."""
    python = read_python_manifest(texts.get("pyproject.toml"), texts.get("setup.cfg"), has_setup_py)
    node = read_node_manifest(texts.get("package.json"))
    python = _noted(python, [too_large_note(n) for n in _PYTHON_FILES if _unread(texts, n)])
    node = _noted(node, [too_large_note("package.json")] if _unread(texts, "package.json") else [])
    return Manifests(python, node)


def unreadable_manifests(names: Collection[str], has_setup_py: bool, why: str) -> Manifests:
    """What `read_manifests` of invalid files `names` gives, noting `why` they were not read."""

    def notes(files: tuple[str, ...], ignored: str) -> tuple[str, ...]:
        return tuple(
            f"{n} could not be read ({why}): {ignored} ignored" for n in files if n in names
        )

    return Manifests(
        PythonManifest(installable=has_setup_py, notes=notes(_PYTHON_FILES, "extras and groups")),
        NodeManifest(notes=notes(("package.json",), "its package manager and dependencies")),
    )


def manifests_to_data(manifests: Manifests) -> dict[str, Any]:
    return {
        "python": dataclasses.asdict(manifests.python),
        "node": dataclasses.asdict(manifests.node),
    }


def manifests_from_data(data: object) -> Manifests:
    """The `Manifests` that `manifests_to_data` gave; ValueError for anything else."""
    if not isinstance(data, dict) or set(data) != {"python", "node"}:
        raise ValueError("not manifests")
    return Manifests(
        PythonManifest(**_fields(PythonManifest, data["python"])),
        NodeManifest(**_fields(NodeManifest, data["node"])),
    )


def _fields(kind: type, data: object) -> dict[str, Any]:
    """`data`'s values for the dataclass `kind` (whose fields are bools, optional strings and
    tuples of strings), each checked against its field's default."""
    defaults = {f.name: f.default for f in dataclasses.fields(kind)}
    if not isinstance(data, dict) or set(data) != set(defaults):
        raise ValueError(f"not a {kind.__name__}")
    fields: dict[str, Any] = {}
    for name, default in defaults.items():
        value = data[name]
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
            valid = all(isinstance(item, str) for item in value)
        elif isinstance(default, bool):
            valid = isinstance(value, bool)
        else:
            valid = default is None and (value is None or isinstance(value, str))
        if not valid:
            raise ValueError(f"{kind.__name__}.{name} has the wrong type")
        fields[name] = value
    return fields


def _unread(texts: Mapping[str, str | None], name: str) -> bool:
    return name in texts and texts[name] is None


def _noted(manifest: _M, notes: list[str]) -> _M:
    return dataclasses.replace(manifest, notes=(*notes, *manifest.notes)) if notes else manifest

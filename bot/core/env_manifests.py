"""What a repository's manifests say about its environment (pure, no I/O): test extras, PEP 735
dependency groups (resolved here, include-group tables too), Poetry groups, whether the project
itself installs, Node's package manager.

Manifests are repository content: hostile input, parsed by the worker only in a child process
with its own limits (bot/core/env_parsed.py). A text over `MAX_MANIFEST_CHARS`, invalid
TOML/JSON/INI, or nesting deep enough to exhaust the parser is ignored with a note. Only the
extras and groups named like `WANTED` are selected, and they are returned normalized (PEP 685),
so a selected name is always one of four fixed words. Requirement strings from dependency
groups must start with a distribution name (never `-`, so pip cannot read one as an option),
contain no control characters and stay under `MAX_REQUIREMENT_CHARS`; at most
`MAX_GROUP_REQUIREMENTS` are taken.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_MANIFEST_CHARS",
    "WANTED",
    "NodeManifest",
    "PythonManifest",
    "normalize_name",
    "read_node_manifest",
    "read_python_manifest",
    "resolve_dependency_groups",
    "too_large_note",
]

WANTED = ("test", "tests", "testing", "dev")
# Real manifests are a few KiB; the worker reads at most this many bytes of each.
MAX_MANIFEST_CHARS = 256 * 1024
MAX_GROUP_REQUIREMENTS = 500
MAX_REQUIREMENT_CHARS = 1000
_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*([\[ ;<>=!~@(,].*)?")
_NODE_TOOLS = ("npm", "pnpm", "yarn")
_MAX_INCLUDE_DEPTH = 32
_MAX_EXPANSIONS = 1000


class _Invalid(ValueError):
    pass


@dataclass(frozen=True)
class PythonManifest:
    installable: bool = False  # `pip install -e .` can work: [project]/[build-system]/setup.py
    extras: tuple[str, ...] = ()  # wanted extras the project defines
    groups: tuple[str, ...] = ()  # wanted PEP 735 groups that exist
    group_requirements: tuple[str, ...] = ()  # those groups, resolved
    poetry_groups: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeManifest:
    package_manager: str | None = None  # from "packageManager": npm, pnpm or yarn
    has_dependencies: bool = False
    notes: tuple[str, ...] = ()


def normalize_name(name: str) -> str:
    """PEP 503/685 normalization of a project, extra or group name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def too_large_note(name: str) -> str:
    return f"{name} is larger than {MAX_MANIFEST_CHARS // 1024} KiB: not read"


def read_python_manifest(
    pyproject: str | None, setup_cfg: str | None, has_setup_py: bool
) -> PythonManifest:
    notes: list[str] = []
    data = _parse(pyproject, "pyproject.toml", _toml, notes) if pyproject is not None else {}
    project = _table(data, "project")
    poetry = _table(_table(data, "tool"), "poetry")
    installable = has_setup_py or bool(project) or "build-system" in data or bool(poetry)
    extras = set(_table(project, "optional-dependencies"))
    extras |= set(_table(poetry, "extras"))
    if setup_cfg is not None:
        extras |= _setup_cfg_extras(setup_cfg, notes)
    requirements, groups = resolve_dependency_groups(data.get("dependency-groups"), notes)
    return PythonManifest(
        installable=installable,
        extras=_wanted(extras),
        groups=tuple(groups),
        group_requirements=tuple(requirements),
        poetry_groups=_wanted(_table(poetry, "group")),
        notes=tuple(notes),
    )


def resolve_dependency_groups(table: object, notes: list[str]) -> tuple[list[str], list[str]]:
    """The requirements of the wanted PEP 735 groups (includes expanded, duplicates dropped)
    and the names of those groups; an invalid table adds a note and yields nothing."""
    if table is None:
        return [], []
    try:
        if not isinstance(table, dict):
            raise _Invalid("[dependency-groups] is not a table")
        groups: dict[str, object] = {}
        for name, entries in table.items():
            if normalize_name(name) in groups:
                raise _Invalid(f"two groups normalize to {_safe(normalize_name(name))!r}")
            groups[normalize_name(name)] = entries
        wanted = [name for name in WANTED if name in groups]
        resolved: dict[str, list[str]] = {}
        requirements: list[str] = []
        budget = [_MAX_EXPANSIONS]
        for name in wanted:
            for requirement in _expand(name, groups, resolved, (), budget):
                if requirement not in requirements:
                    requirements.append(requirement)
        if len(requirements) > MAX_GROUP_REQUIREMENTS:
            raise _Invalid(f"more than {MAX_GROUP_REQUIREMENTS} requirements")
    except _Invalid as exc:
        notes.append(f"dependency groups not installed: {exc}")
        return [], []
    return requirements, wanted


def read_node_manifest(package_json: str | None) -> NodeManifest:
    notes: list[str] = []
    data = _parse(package_json, "package.json", json.loads, notes) if package_json else {}
    manager = data.get("packageManager")
    tool = manager.split("@", 1)[0] if isinstance(manager, str) else None
    has_dependencies = any(_table(data, key) for key in ("dependencies", "devDependencies"))
    return NodeManifest(tool if tool in _NODE_TOOLS else None, has_dependencies, tuple(notes))


def _expand(
    name: str,
    groups: Mapping[str, object],
    resolved: dict[str, list[str]],
    trail: tuple[str, ...],
    budget: list[int],
) -> list[str]:
    """One group's requirements, its includes expanded once each (memoized: a diamond of
    includes cannot blow up; `budget` bounds the work anyway), cycles and unknown groups
    refused."""
    if name in resolved:
        return resolved[name]
    budget[0] -= 1
    if budget[0] < 0:
        raise _Invalid("include-group expansion is too large")
    if name in trail:
        raise _Invalid(f"include-group cycle through {_safe(name)!r}")
    if len(trail) >= _MAX_INCLUDE_DEPTH:
        raise _Invalid(f"include-group chains deeper than {_MAX_INCLUDE_DEPTH}")
    if name not in groups:
        raise _Invalid(f"include-group names an unknown group {_safe(name)!r}")
    entries = groups[name]
    if not isinstance(entries, list):
        raise _Invalid(f"group {_safe(name)!r} is not a list")
    found: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            items = [_checked_requirement(entry, name)]
        elif isinstance(entry, dict) and list(entry) == ["include-group"]:
            include = entry["include-group"]
            if not isinstance(include, str):
                raise _Invalid(f"group {_safe(name)!r} has an invalid include-group")
            items = _expand(normalize_name(include), groups, resolved, (*trail, name), budget)
        else:
            raise _Invalid(
                f"group {_safe(name)!r} has an entry that is neither a string nor an include"
            )
        found += [item for item in items if item not in found]
        if len(found) > MAX_GROUP_REQUIREMENTS:
            raise _Invalid(f"more than {MAX_GROUP_REQUIREMENTS} requirements")
    resolved[name] = found
    return found


def _checked_requirement(text: str, group: str) -> str:
    requirement = text.strip()
    if (
        len(requirement) > MAX_REQUIREMENT_CHARS
        or not _REQUIREMENT.fullmatch(requirement)
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in requirement)
    ):
        raise _Invalid(f"group {_safe(group)!r} has a requirement that is not a plain PEP 508 one")
    return requirement


def _parse(text: str, label: str, parser: Any, notes: list[str]) -> dict[str, Any]:
    if len(text) > MAX_MANIFEST_CHARS:
        notes.append(too_large_note(label))
        return {}
    try:
        data = parser(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError and JSONDecodeError too
        notes.append(f"{label} could not be read ({type(exc).__name__}): extras and groups ignored")
        return {}
    return data if isinstance(data, dict) else {}


def _toml(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def _setup_cfg_extras(text: str, notes: list[str]) -> set[str]:
    if len(text) > MAX_MANIFEST_CHARS:
        notes.append(too_large_note("setup.cfg"))
        return set()
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        notes.append(f"setup.cfg could not be read ({type(exc).__name__}): its extras ignored")
        return set()
    if not parser.has_section("options.extras_require"):
        return set()
    return set(parser.options("options.extras_require"))


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _wanted(names: Iterable[str]) -> tuple[str, ...]:
    present = {normalize_name(name) for name in names}
    return tuple(name for name in WANTED if name in present)


def _safe(name: str) -> str:
    """A repository-chosen name, made harmless for a note that is posted."""
    return re.sub(r"[^A-Za-z0-9._-]", "?", name[:40])

"""Manifests as plain data: what the parser child answers round-trips exactly, anything else is
refused, and files that could not be parsed read like invalid ones, with a note."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.env_manifests import NodeManifest, PythonManifest
from bot.core.env_parsed import (
    Manifests,
    manifests_from_data,
    manifests_to_data,
    read_manifests,
    unreadable_manifests,
)

PYPROJECT = """
[project]
name = "acme"
[project.optional-dependencies]
test = ["pytest"]
[dependency-groups]
dev = ["ruff>=0.5"]
"""


def test_parsed_manifests_survive_json_exactly() -> None:
    """read_manifests' result, through JSON and back, is the same value."""
    texts = {"pyproject.toml": PYPROJECT, "package.json": '{"packageManager": "pnpm@9"}'}
    manifests = read_manifests(texts, has_setup_py=False)
    assert manifests.python.extras == ("test",)
    assert manifests.python.group_requirements == ("ruff>=0.5",)
    assert manifests.node.package_manager == "pnpm"
    data = json.loads(json.dumps(manifests_to_data(manifests)))
    assert manifests_from_data(data) == manifests


def test_a_file_too_large_to_read_is_noted_under_its_kind() -> None:
    """None for a text: not read, noted with the python or the node manifest."""
    manifests = read_manifests(
        {"pyproject.toml": None, "setup.cfg": None, "package.json": None}, has_setup_py=True
    )
    assert manifests == Manifests(
        PythonManifest(
            installable=True,
            notes=(
                "pyproject.toml is larger than 256 KiB: not read",
                "setup.cfg is larger than 256 KiB: not read",
            ),
        ),
        NodeManifest(notes=("package.json is larger than 256 KiB: not read",)),
    )


def test_unreadable_manifests_are_like_invalid_ones() -> None:
    """Only the files sent are noted; setup.py still makes the project installable."""
    manifests = unreadable_manifests(["pyproject.toml", "package.json"], True, "it timed out")
    assert manifests == Manifests(
        PythonManifest(
            installable=True,
            notes=("pyproject.toml could not be read (it timed out): extras and groups ignored",),
        ),
        NodeManifest(
            notes=(
                "package.json could not be read (it timed out): its package manager and "
                "dependencies ignored",
            )
        ),
    )


GOOD = manifests_to_data(Manifests())


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"python": GOOD["python"]},
        {**GOOD, "extra": {}},
        {**GOOD, "python": {**GOOD["python"], "installable": "yes"}},
        {**GOOD, "python": {**GOOD["python"], "extras": "test"}},
        {**GOOD, "python": {**GOOD["python"], "extras": [1]}},
        {**GOOD, "python": {**GOOD["python"], "unknown": []}},
        {**GOOD, "node": {**GOOD["node"], "package_manager": 3}},
        {**GOOD, "node": {**GOOD["node"], "has_dependencies": None}},
    ],
)
def test_anything_but_manifests_is_refused(data: Any) -> None:
    """Wrong shapes, missing, extra or mistyped fields: ValueError."""
    with pytest.raises(ValueError):
        manifests_from_data(data)

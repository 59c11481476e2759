"""A minimal PEP 517/660 build backend for orchestrate's test fixtures.

The local index (tests/support/pyindex.py) serves this file as the package
`orchestrate-fixture-backend`, so a fixture project installs with nothing but that index. It
reads [project] (name, version, dependencies, optional-dependencies) from pyproject.toml and
builds an editable wheel (a .pth naming the source root: `src/` when it exists) or a regular
wheel of the source root's Python files.
"""

import base64
import hashlib
import os
import re
import tomllib
import zipfile
from typing import Any


def _project() -> dict[str, Any]:
    with open("pyproject.toml", "rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
        return project


def _names(project: dict[str, Any]) -> tuple[str, str]:
    dist = re.sub(r"[-_.]+", "_", project["name"]).lower()
    return dist, f"{dist}-{project['version']}"


def _metadata(project: dict[str, Any]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    lines += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
    return "\n".join(lines) + "\n"


def _wheel(directory: str, project: dict[str, Any], files: dict[str, bytes]) -> str:
    _, stem = _names(project)
    info = f"{stem}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = _metadata(project).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    name = f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name


def _source_root() -> str:
    return os.path.abspath("src" if os.path.isdir("src") else ".")


def get_requires_for_build_wheel(config_settings: object = None) -> list[str]:
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def build_editable(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    project = _project()
    pth = {f"_{_names(project)[0]}_editable.pth": (_source_root() + "\n").encode()}
    return _wheel(wheel_directory, project, pth)


def build_wheel(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    root, files = _source_root(), dict[str, bytes]()
    for top, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("tests", "build")]
        for name in (n for n in names if n.endswith(".py") and top != root):
            path = os.path.join(top, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return _wheel(wheel_directory, _project(), files)

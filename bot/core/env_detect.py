"""What to run to build a repository's environment (pure, no I/O): a `SetupPlan` from the
repository's file list, its parsed manifests (bot/core/env_parsed.py: plan_setup never parses
anything), the worker's tools and the repo config's `setup_command`.

Order of precedence: `setup_command` (run by /bin/sh after the virtualenv exists) wins; else
detection. Python: a virtualenv at `<env_dir>/venv` made by the worker's interpreter (without
pip when the plan installs with the interpreter's bundled pip wheel, `WorkerTools.pip_wheel`:
three times faster than seeding the virtualenv with pip, and nothing needs pip offline), then
`uv sync --frozen` for uv.lock (when uv exists), `poetry install` for poetry.lock (when poetry
exists), else one `pip install` of the top-level `*requirements*.txt` files (the first
`MAX_REQUIREMENTS_FILES`, sorted; more are ignored with a note), the project
editable with its test extras (`.[test,dev]`) when it installs, and the wanted PEP 735
dependency groups resolved here into requirement strings (the venv's bundled pip may predate
`--group`). Node: `npm ci` / `pnpm install --frozen-lockfile` / `yarn install
--frozen-lockfile` for a lock file when the tool exists (else a "skipped" note), `npm install`
for a package.json with dependencies and no lock; `node_modules` lives in `<env_dir>` and is
shown at `<worktree>/node_modules` (`worktree_mounts`). Nothing detected: an empty plan.

Every step is an argv tuple (rendered with shlex.join), never a string built from repository
text; the extras and groups are fixed words (bot/core/env_manifests.py), requirements files are
taken only with plain names. Package caches stay in the setup's private HOME (its scratch
directory, bot/sandbox/env_setup.py): the environment directory holds only what is installed.

The editable install records the worktree's path in the virtualenv: a later sandbox using the
environment must show the worktree at the path it had during setup (or the project itself
will not import from the environment).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.env_manifests import NodeManifest, PythonManifest
from bot.core.env_parsed import READ_FILES, Manifests

__all__ = [
    "MAX_REQUIREMENTS_FILES",
    "NOTHING_DETECTED",
    "READ_FILES",
    "RepoFiles",
    "SetupPlan",
    "SetupStep",
    "WorkerTools",
    "plan_setup",
]

MAX_REQUIREMENTS_FILES = 16
_NODE_LOCKS = {
    "npm": ("package-lock.json", "npm-shrinkwrap.json"),
    "pnpm": ("pnpm-lock.yaml",),
    "yarn": ("yarn.lock",),
}
_NODE_COMMANDS = {
    "npm": (("ci", "--no-audit", "--no-fund"), ("install", "--no-audit", "--no-fund")),
    "pnpm": (("install", "--frozen-lockfile"), ("install",)),
    "yarn": (("install", "--frozen-lockfile"), ("install",)),
}
_PY_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
_REQUIREMENTS = re.compile(r".*requirements.*\.txt", re.IGNORECASE | re.DOTALL)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")
NOTHING_DETECTED = "nothing to set up: no Python or Node manifests found"


@dataclass(frozen=True)
class WorkerTools:
    """`python`: the interpreter that creates virtualenvs; `paths`: tool name to absolute
    path for the tools the worker has (uv, poetry, npm, pnpm, yarn)."""

    python: str
    python_version: str
    paths: Mapping[str, str] = field(default_factory=dict)
    pip_wheel: str | None = None  # the interpreter's bundled pip wheel (ensurepip), if any


@dataclass(frozen=True)
class RepoFiles:
    """`paths`: the repository's files (relative, posix); `manifests`: its READ_FILES, parsed."""

    paths: frozenset[str]
    manifests: Manifests = field(default_factory=Manifests)


@dataclass(frozen=True)
class SetupStep:
    argv: tuple[str, ...] = ()
    script: str = ""  # the repo config's setup_command, run as written by /bin/sh

    def command_line(self) -> str:
        return self.script or shlex.join(self.argv)


@dataclass(frozen=True)
class SetupPlan:
    steps: tuple[SetupStep, ...] = ()
    description: str = NOTHING_DETECTED
    inputs: tuple[str, ...] = ()  # files whose contents define the environment (cache key)
    tools: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # for setup and later commands
    path: tuple[str, ...] = ()  # directories to put first on PATH
    worktree_mounts: tuple[str, ...] = ()  # <env_dir>/<name> shown at <worktree>/<name>
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.steps


@dataclass
class _Part:
    summary: str
    steps: list[SetupStep] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)


def plan_setup(
    repo: RepoFiles, tools: WorkerTools, env_dir: str, setup_command: str | None = None
) -> SetupPlan:
    """The plan for `repo`; `env_dir` is the environment's final absolute path."""
    notes: list[str] = []
    venv = f"{env_dir}/venv"
    if setup_command and setup_command.strip():
        parts = [_configured(repo, tools, env_dir, venv, setup_command)]
    else:
        python = _python(repo, tools, venv, notes)
        node = _node(repo, tools, env_dir, notes)
        parts = [part for part in (python, node) if part is not None]
    if not parts:
        return SetupPlan(notes=tuple(notes), description=_describe([], notes))
    return SetupPlan(
        steps=tuple(step for part in parts for step in part.steps),
        description=_describe([part.summary for part in parts], notes),
        inputs=tuple(sorted({name for part in parts for name in part.inputs})),
        tools=tuple(dict.fromkeys(tool for part in parts for tool in part.tools)),
        env={name: value for part in parts for name, value in part.env.items()},
        path=tuple(entry for part in parts for entry in part.path),
        worktree_mounts=tuple(name for part in parts for name in part.mounts),
        notes=tuple(notes),
    )


def _configured(
    repo: RepoFiles, tools: WorkerTools, env_dir: str, venv: str, command: str
) -> _Part:
    part = _venv_part(tools, venv, "setup_command from .github/orchestrate.yml")
    part.steps.append(SetupStep(script=command))
    known = [*_PY_FILES, "uv.lock", "poetry.lock", "package.json"]
    known += [lock for locks in _NODE_LOCKS.values() for lock in locks]
    part.inputs = sorted(
        {
            *(n for n in known if n in repo.paths),
            *_plain_requirements(repo)[:MAX_REQUIREMENTS_FILES],
        }
    )
    if "package.json" in repo.paths:
        part.path.append(f"{env_dir}/node_modules/.bin")
        part.mounts.append("node_modules")
    return part


def _venv_part(tools: WorkerTools, venv: str, summary: str, *, pip: bool = True) -> _Part:
    version = ".".join(tools.python_version.split(".")[:2])
    flags = () if pip else ("--without-pip",)
    return _Part(
        summary=f"Python {version} virtualenv, {summary}",
        steps=[SetupStep((tools.python, "-m", "venv", *flags, venv))],
        tools=["python"],
        env={"VIRTUAL_ENV": venv, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        path=[f"{venv}/bin"],
    )


def _python(repo: RepoFiles, tools: WorkerTools, venv: str, notes: list[str]) -> _Part | None:
    manifest = repo.manifests.python
    notes += manifest.notes
    plain = _plain_requirements(repo)
    unusual = [p for p in repo.paths if "/" not in p and _REQUIREMENTS.fullmatch(p)]
    if len(unusual) > len(plain):
        count = len(unusual) - len(plain)
        notes.append(f"ignored {count} requirements file(s) whose names are not plain")
    requirements = plain[:MAX_REQUIREMENTS_FILES]
    if len(plain) > len(requirements):
        count = len(plain) - len(requirements)
        notes.append(f"ignored {count} requirements file(s) after the first {len(requirements)}")
    locks = [name for name in ("uv.lock", "poetry.lock") if name in repo.paths]
    if not (requirements or manifest.installable or manifest.group_requirements or locks):
        return None
    python_inputs = [name for name in _PY_FILES if name in repo.paths]
    if "uv.lock" in repo.paths and "uv" in tools.paths:
        return _uv(tools, venv, manifest, python_inputs)
    if "poetry.lock" in repo.paths and "poetry" in tools.paths:
        return _poetry(tools, venv, manifest, python_inputs)
    for lock in locks:
        tool = lock.split(".")[0]
        notes.append(f"skipped {lock}: {tool} is not on the worker, installed with pip instead")
    return _pip(tools, venv, manifest, requirements, python_inputs)


def _uv(tools: WorkerTools, venv: str, manifest: PythonManifest, inputs: list[str]) -> _Part:
    flags = [flag for extra in manifest.extras for flag in ("--extra", extra)]
    flags += [flag for group in manifest.groups for flag in ("--group", group)]
    summary = "uv sync --frozen from uv.lock" + _selection(manifest)
    part = _venv_part(tools, venv, summary, pip=False)  # uv installs by itself
    argv = (tools.paths["uv"], "sync", "--frozen", "--python", f"{venv}/bin/python", *flags)
    part.steps.append(SetupStep(argv))
    part.env |= {"UV_PROJECT_ENVIRONMENT": venv, "UV_PYTHON_DOWNLOADS": "never"}
    part.inputs, part.tools = [*inputs, "uv.lock"], ["python", "uv"]
    return part


def _poetry(tools: WorkerTools, venv: str, manifest: PythonManifest, inputs: list[str]) -> _Part:
    flags = ["--with", ",".join(manifest.poetry_groups)] if manifest.poetry_groups else []
    flags += [flag for extra in manifest.extras for flag in ("--extras", extra)]
    summary = "poetry install from poetry.lock"
    if manifest.poetry_groups:
        summary += f" (groups {', '.join(manifest.poetry_groups)})"
    part = _venv_part(tools, venv, summary)
    part.steps.append(SetupStep((tools.paths["poetry"], "install", "--no-interaction", *flags)))
    part.inputs, part.tools = [*inputs, "poetry.lock"], ["python", "poetry"]
    return part


def _pip(
    tools: WorkerTools,
    venv: str,
    manifest: PythonManifest,
    requirements: list[str],
    inputs: list[str],
) -> _Part:
    pip = [f"{tools.pip_wheel}/pip"] if tools.pip_wheel else ["-m", "pip"]
    argv = [f"{venv}/bin/python", *pip, "install"]
    described = [f"-r {name}" for name in requirements]
    for name in requirements:
        argv += ["-r", name]
    if manifest.installable:
        spec = f".[{','.join(manifest.extras)}]" if manifest.extras else "."
        argv += ["-e", spec]
        described.append(f"the project ({spec})")
    if manifest.group_requirements:
        argv += ["--", *manifest.group_requirements]  # never read as options
        described.append(f"dependency groups {', '.join(manifest.groups)}")
    part = _venv_part(tools, venv, "pip install " + ", ".join(described), pip=not tools.pip_wheel)
    part.steps.append(SetupStep(tuple(argv)))
    part.inputs = [*inputs, *requirements]
    return part


def _node(repo: RepoFiles, tools: WorkerTools, env_dir: str, notes: list[str]) -> _Part | None:
    if "package.json" not in repo.paths:
        return None
    manifest = repo.manifests.node
    notes += manifest.notes
    tool, lock = _node_tool(repo, manifest)
    if tool is None or (lock is None and not manifest.has_dependencies):
        return None
    if tool not in tools.paths:
        notes.append(f"skipped Node: {tool} is not on the worker ({lock or 'package.json'})")
        return None
    frozen, loose = _NODE_COMMANDS[tool]
    verb = frozen if lock else loose
    source = lock or "package.json (no lock file)"
    return _Part(
        summary=f"Node: {tool} {' '.join(verb)} from {source}",
        steps=[SetupStep((tools.paths[tool], *verb))],
        inputs=["package.json", *([lock] if lock else [])],
        tools=[tool],
        path=[f"{env_dir}/node_modules/.bin"],
        mounts=["node_modules"],
    )


def _node_tool(repo: RepoFiles, manifest: NodeManifest) -> tuple[str | None, str | None]:
    """The package manager and its lock file: the one package.json names, else the first
    tool whose lock exists, else npm without a lock."""
    locked = {
        tool: next(lock for lock in locks if lock in repo.paths)
        for tool, locks in _NODE_LOCKS.items()
        if any(lock in repo.paths for lock in locks)
    }
    if manifest.package_manager in locked:
        return manifest.package_manager, locked[manifest.package_manager]
    if locked:
        tool = next(iter(locked))
        return tool, locked[tool]
    return manifest.package_manager or "npm", None


def _plain_requirements(repo: RepoFiles) -> list[str]:
    """Top-level `*requirements*.txt` files with plain names, sorted (others are never used)."""
    return sorted(
        p
        for p in repo.paths
        if "/" not in p and _REQUIREMENTS.fullmatch(p) and _PLAIN_NAME.fullmatch(p)
    )


def _selection(manifest: PythonManifest) -> str:
    chosen = [f"extra {name}" for name in manifest.extras]
    chosen += [f"group {name}" for name in manifest.groups]
    return f" ({', '.join(chosen)})" if chosen else ""


def _describe(summaries: list[str], notes: list[str]) -> str:
    text = "; ".join(summaries) or NOTHING_DETECTED
    return text + "".join(f"; {note}" for note in notes)

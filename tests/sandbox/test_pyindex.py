"""The local package index (tests/support/pyindex.py): valid wheels, a PEP 503 simple API
that a real pip installs from with no other index, and a record of downloads."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import urllib.request
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from tests.support.pyindex import BENCH_DISTS, FIXTURE_DEP, Dist, PackageIndex, build_wheel

PIP_ENV = {"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null", "HOME": "/nonexistent"}


@pytest.fixture
def index(pyindex: PackageIndex) -> PackageIndex:
    return pyindex


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of this module's own: these tests install into it."""
    target = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
    return target


def _pip_install(venv: Path, index: PackageIndex, *names: str) -> subprocess.CompletedProcess[str]:
    command = [str(venv / "bin/python"), "-m", "pip", "install", "--index-url", index.url]
    command += ["--no-cache-dir", "--disable-pip-version-check", *names]
    return subprocess.run(command, capture_output=True, text=True, env=PIP_ENV, timeout=120)


def test_wheel_is_well_formed() -> None:
    """The wheel's RECORD lists every file with its sha256 and size, METADATA its requires."""
    dist = Dist("Some.Pkg_Name", "2.0", requires=("other>=1",), source="X = 1\n")
    with zipfile.ZipFile(BytesIO(build_wheel(dist))) as archive:
        names = archive.namelist()
        record = archive.read("some_pkg_name-2.0.dist-info/RECORD").decode().splitlines()
        metadata = archive.read("some_pkg_name-2.0.dist-info/METADATA").decode()
        assert archive.read("some_pkg_name/__init__.py") == b"X = 1\n"
    assert names == [
        "some_pkg_name/__init__.py",
        "some_pkg_name-2.0.dist-info/METADATA",
        "some_pkg_name-2.0.dist-info/WHEEL",
        "some_pkg_name-2.0.dist-info/RECORD",
    ]
    assert [line.split(",")[0] for line in record] == names
    digest = base64.urlsafe_b64encode(hashlib.sha256(b"X = 1\n").digest()).rstrip(b"=").decode()
    assert record[0] == f"some_pkg_name/__init__.py,sha256={digest},6"
    assert record[-1] == "some_pkg_name-2.0.dist-info/RECORD,,"
    assert "Requires-Dist: other>=1\n" in metadata
    assert dist.filename == "some_pkg_name-2.0-py3-none-any.whl"


def test_simple_api_pages(index: PackageIndex) -> None:
    """Project pages use normalized names, redirect other spellings, and link each file with
    its sha256 fragment; unknown projects are 404."""
    status, _, body = index.answer("/simple/orchestrate-fixture-dep/")
    digest = hashlib.sha256(index.wheels[FIXTURE_DEP.filename]).hexdigest()
    assert status == 200
    assert (
        f'<a href="/files/{FIXTURE_DEP.filename}#sha256={digest}" data-requires-python="&gt;=3.8">'
        in body.decode()
    )
    assert index.answer("/simple/Orchestrate_Fixture.Dep/")[:2] == (
        301,
        {"Location": "/simple/orchestrate-fixture-dep/"},
    )
    assert index.answer("/simple/nope/")[0] == 404
    with urllib.request.urlopen(index.url) as answer:
        assert b'<a href="/simple/orchestrate-bench-0/">' in answer.read()


def test_pip_installs_from_the_index_alone(index: PackageIndex, venv: Path) -> None:
    """A fresh venv's pip, with no config and no cache, installs the fixture package from
    the index, and the index records exactly that one download."""
    before = len(index.downloads)
    done = _pip_install(venv, index, "orchestrate-fixture-dep")
    assert done.returncode == 0, done.stdout + done.stderr
    assert index.downloads[before:] == [FIXTURE_DEP.filename]
    answer = subprocess.run(
        [str(venv / "bin/python"), "-c", "import orchestrate_fixture_dep as m; print(m.answer())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout == "42\n"


def test_dependency_chain_installs_in_full(index: PackageIndex, venv: Path) -> None:
    """Installing the head of the benchmark chain pulls all ten packages from the index."""
    before = len(index.downloads)
    done = _pip_install(venv, index, "orchestrate-bench-0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(index.downloads[before:]) == sorted(d.filename for d in BENCH_DISTS)


def test_unknown_package_fails_without_reaching_elsewhere(index: PackageIndex, venv: Path) -> None:
    """A package the index lacks fails to install (pip has no other index to fall back on)."""
    done = _pip_install(venv, index, "requests")
    assert done.returncode != 0
    assert "No matching distribution found for requests" in done.stderr

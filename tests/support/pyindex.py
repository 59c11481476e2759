"""A local PEP 503 "simple" package index on 127.0.0.1 for tests and benchmarks.

Wheels are built in memory (zipfile: the module, METADATA, WHEEL, RECORD with hashes), so no
network and no build backend is needed. The server answers the simple API in HTML (PEP 503:
normalized project names, `#sha256=` fragments, `data-requires-python`) and records every file
downloaded, so a test can assert that a cache hit downloaded nothing.

    with PackageIndex([FIXTURE_DEP, *BENCH_DISTS]) as index:
        pip install --index-url {index.url} --no-cache-dir orchestrate-fixture-dep
        assert index.downloads == ["orchestrate_fixture_dep-1.0.0-py3-none-any.whl"]

An outage: `index.fail(503, seconds=15, retry_after=1)` answers 503 to every request for 15 s
from the first one it fails (`fail(None, ...)` drops the connection without an answer), then
serves again; `faults_served` counts the failed requests.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.installed_wheels import PYTEST_DISTS, BuiltWheel, installed_wheel

_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Dist:
    """One pure-Python distribution: its import package is the name with `_` for `-`."""

    name: str
    version: str = "1.0.0"
    requires: tuple[str, ...] = ()
    source: str = ""
    requires_python: str | None = ">=3.8"

    @property
    def project(self) -> str:
        return normalize(self.name)

    @property
    def package(self) -> str:
        return self.project.replace("-", "_")

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.version}-py3-none-any.whl"


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def build_wheel(dist: Dist) -> bytes:
    """A valid py3-none-any wheel holding `<package>/__init__.py` with `dist.source`."""
    info = f"{dist.package}-{dist.version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {dist.name}",
        f"Version: {dist.version}",
        "Summary: A package of the orchestrate test index",
    ]
    metadata += [f"Requires-Dist: {requirement}" for requirement in dist.requires]
    if dist.requires_python:
        metadata.append(f"Requires-Python: {dist.requires_python}")
    wheel = ["Wheel-Version: 1.0", "Generator: orchestrate-tests", "Root-Is-Purelib: true"]
    files = {
        f"{dist.package}/__init__.py": dist.source.encode(),
        f"{info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{info}/WHEEL": ("\n".join([*wheel, "Tag: py3-none-any"]) + "\n").encode(),
    }
    record = [f"{path},sha256={_b64_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, _EPOCH), data)
    return buffer.getvalue()


def _b64_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


FIXTURE_DEP = Dist(
    "orchestrate-fixture-dep",
    "1.0.0",
    source='"""Exists only in the local test index."""\n\n\ndef answer() -> int:\n    return 42\n',
)

# A PEP 517/660 build backend small enough to ship as a string: fixture projects name it in
# [build-system] so that `pip install -e .` needs nothing but this index (setuptools would
# need setuptools and wheel from somewhere). It reads [project] from pyproject.toml.
_BACKEND_SOURCE = (Path(__file__).parent / "fixture_backend.py").read_text()

FIXTURE_BACKEND = Dist("orchestrate-fixture-backend", "1.0.0", source=_BACKEND_SOURCE)

# A project that needs only this index: `pip install -e '.[test]'` brings the fixture dep.
FIXTURE_PYPROJECT = """\
[build-system]
requires = ["orchestrate-fixture-backend"]
build-backend = "orchestrate_fixture_backend"

[project]
name = "fixture-app"
version = "0.1.0"

[project.optional-dependencies]
test = ["orchestrate-fixture-dep>=1.0"]
"""

# A benchmark-sized set: ten small packages, each requiring the next (a dependency chain).
BENCH_DISTS = tuple(
    Dist(
        f"orchestrate-bench-{n}",
        "1.0.0",
        requires=(f"orchestrate-bench-{n + 1}>=1.0",) if n < 9 else (),
        source=f"VALUE = {n}\n"
        + "\n".join(f"def f{i}() -> int:\n    return {i}\n" for i in range(50)),
    )
    for n in range(10)
)


class PackageIndex:
    """The index server; `url` is the simple API's root (`http://127.0.0.1:<port>/simple/`)."""

    def __init__(self, dists: Iterable[Dist], wheels: Iterable[BuiltWheel] = ()) -> None:
        # Per project: its files' names and Requires-Python.
        self.dists: dict[str, list[tuple[str, str | None]]] = {}
        self.wheels: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.faults_served = 0
        self._fault: _Outage | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for dist in dists:
            self.add(dist)
        for wheel in wheels:
            self.add_wheel(wheel)

    def add(self, dist: Dist) -> None:
        self.add_wheel(
            BuiltWheel(dist.project, dist.filename, build_wheel(dist), dist.requires_python)
        )

    def add_wheel(self, wheel: BuiltWheel) -> None:
        self.dists.setdefault(wheel.project, []).append((wheel.filename, wheel.requires_python))
        self.wheels[wheel.filename] = wheel.data

    @property
    def port(self) -> int:
        assert self._server is not None, "the index is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> PackageIndex:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(
        self, status: int | None, *, seconds: float | None = None, retry_after: int | None = None
    ) -> None:
        """Answer `status` (None: drop the connection) to every request for `seconds` from the
        first one (None: until `recover`), with `Retry-After` when given."""
        with self._lock:
            self._fault = _Outage(status, seconds, retry_after)

    def recover(self) -> None:
        with self._lock:
            self._fault = None

    def outage_answer(self) -> tuple[int | None, dict[str, str]] | None:
        """The failure to give the current request instead of its answer, if any."""
        with self._lock:
            fault = self._fault
            if fault is None or not fault.active():
                return None
            self.faults_served += 1
        headers = {"Content-Type": "text/plain"}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        return fault.status, headers

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for GET `path` (recording requests and downloads)."""
        with self._lock:
            self.requests.append(path)
        path = path.split("?", 1)[0]
        if path == "/simple/":
            links = [f'<a href="/simple/{p}/">{p}</a>' for p in sorted(self.dists)]
            return 200, _HTML, _page("Simple index", links)
        if match := re.fullmatch(r"/simple/([^/]+)/?", path):
            return self._project_page(match.group(1), path)
        if (match := re.fullmatch(r"/files/([^/]+)", path)) and match.group(1) in self.wheels:
            with self._lock:
                self.downloads.append(match.group(1))
            return 200, {"Content-Type": "application/octet-stream"}, self.wheels[match.group(1)]
        return 404, {"Content-Type": "text/plain"}, b"not found\n"

    def _project_page(self, name: str, path: str) -> tuple[int, dict[str, str], bytes]:
        project = normalize(name)
        if project not in self.dists:
            return 404, {"Content-Type": "text/plain"}, b"no such project\n"
        if path != f"/simple/{project}/":  # PEP 503: redirect to the normalized URL
            return 301, {"Location": f"/simple/{project}/"}, b""
        links = []
        for filename, requires_python in self.dists[project]:
            digest = hashlib.sha256(self.wheels[filename]).hexdigest()
            python = requires_python or ""
            links.append(
                f'<a href="/files/{filename}#sha256={digest}" '
                f'data-requires-python="{html.escape(python)}">{filename}</a>'
            )
        return 200, _HTML, _page(f"Links for {project}", links)


_HTML = {"Content-Type": "text/html; charset=utf-8"}


@dataclass
class _Outage:
    status: int | None
    seconds: float | None
    retry_after: int | None
    started: float | None = None

    def active(self) -> bool:
        now = time.monotonic()
        self.started = self.started if self.started is not None else now
        return self.seconds is None or now - self.started < self.seconds


def _page(title: str, links: list[str]) -> bytes:
    body = "<br/>\n".join(links)
    return (
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{title}</title></head><body>\n<h1>{title}</h1>\n{body}\n</body></html>\n"
    ).encode()


def _handler_for(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if (outage := index.outage_answer()) is not None:
                self._fail(*outage)
                return
            status, headers, body = index.answer(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _fail(self, status: int | None, headers: dict[str, str]) -> None:
            self.close_connection = True
            if status is None:  # dropped: no answer at all
                return
            body = f"index outage: {status}\n".encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read `requests` and `downloads` instead

    return Handler


_shared: PackageIndex | None = None
_shared_lock = threading.Lock()


def shared_index() -> PackageIndex:
    """One index per test process, started on first use: the fixture packages, the benchmark
    set and a real pytest (rebuilt from this environment), for every run stack and worker."""
    global _shared
    with _shared_lock:
        if _shared is None:
            wheels = [installed_wheel(name) for name in PYTEST_DISTS]
            _shared = PackageIndex([FIXTURE_DEP, FIXTURE_BACKEND, *BENCH_DISTS], wheels)
            _shared.start()
        return _shared

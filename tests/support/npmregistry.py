"""A one-package npm registry on 127.0.0.1 (packument + tarball built in memory), recording
the paths it was asked for: enough for `npm install` through the egress proxy."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PACKAGE = "orchestrate-fixture-js"


def _tarball() -> bytes:
    manifest = json.dumps({"name": PACKAGE, "version": "1.0.0", "main": "index.js"}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (
            ("package/package.json", manifest),
            ("package/index.js", b"module.exports = 42;\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class NpmRegistry:
    def __init__(self) -> None:
        self.tarball = _tarball()
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> NpmRegistry:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        self.requests.append(path)
        if path == f"/{PACKAGE}/-/{PACKAGE}-1.0.0.tgz":
            return 200, "application/octet-stream", self.tarball
        if path != f"/{PACKAGE}":
            return 404, "application/json", b"{}"
        dist = {
            "tarball": f"{self.url}{PACKAGE}/-/{PACKAGE}-1.0.0.tgz",
            "integrity": "sha512-"
            + base64.b64encode(hashlib.sha512(self.tarball).digest()).decode(),
        }
        version = {"name": PACKAGE, "version": "1.0.0", "dist": dist}
        packument = {
            "name": PACKAGE,
            "dist-tags": {"latest": "1.0.0"},
            "versions": {"1.0.0": version},
        }
        return 200, "application/json", json.dumps(packument).encode()


def _handler_for(registry: NpmRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = registry.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

"""git smart HTTP: a CGI bridge to `git http-backend`, behind installation-token Basic auth.

Pushes (receive-pack) run one at a time per repository, so the refs read before and after a push
tell exactly which refs it changed; those changes land in `HubState.pushes`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import gitrepo
from .auth import basic, valid_token
from .gitrepo import GIT_ENV, ZERO_SHA
from .state import Push, RepoState
from .web import hub_of

if TYPE_CHECKING:
    from .server import FakeHub

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="GitHub"'}


def cgi_env(request: Request, root: Path, path_info: str, user: str, body: bytes) -> dict[str, str]:
    env = {
        **GIT_ENV,
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "REMOTE_USER": user,
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
    }
    if content_type := request.headers.get("content-type"):
        env["CONTENT_TYPE"] = content_type
    # http-backend inflates gzip bodies itself and reads the protocol version from the header.
    if encoding := request.headers.get("content-encoding"):
        env["HTTP_CONTENT_ENCODING"] = encoding
    if protocol := request.headers.get("git-protocol"):
        env["HTTP_GIT_PROTOCOL"] = protocol
    return env


def parse_cgi_headers(raw: bytes) -> tuple[int, dict[str, str]]:
    status, headers = 200, {}
    for line in raw.decode("latin-1").splitlines():
        if not line.strip():
            continue
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers[name.strip()] = value.strip()
    return status, headers


async def read_headers(stdout: asyncio.StreamReader) -> bytes:
    lines = []
    while line := await stdout.readline():
        if line in (b"\r\n", b"\n"):
            break
        lines.append(line)
    return b"".join(lines)


async def run_buffered(env: dict[str, str], body: bytes) -> Response:
    proc = await asyncio.create_subprocess_exec(
        "git", "http-backend", stdin=-1, stdout=-1, stderr=-1, env=env
    )
    out, _ = await proc.communicate(body)
    ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := out.find(sep)) >= 0]
    cut, width = min(ends, default=(len(out), 0))
    head, payload = out[:cut], out[cut + width :]
    status, headers = parse_cgi_headers(head)
    return Response(payload, status_code=status, headers=headers)


async def run_streaming(env: dict[str, str], body: bytes) -> Response:
    proc = await asyncio.create_subprocess_exec(
        "git", "http-backend", stdin=-1, stdout=-1, stderr=-1, env=env
    )
    assert proc.stdin and proc.stdout and proc.stderr

    async def feed() -> None:
        assert proc.stdin
        with contextlib.suppress(ConnectionError):
            proc.stdin.write(body)
            await proc.stdin.drain()
        proc.stdin.close()

    feeder = asyncio.create_task(feed())
    drain_err = asyncio.create_task(proc.stderr.read())
    status, headers = parse_cgi_headers(await read_headers(proc.stdout))
    stdout = proc.stdout

    async def stream() -> AsyncIterator[bytes]:
        try:
            while chunk := await stdout.read(65536):
                yield chunk
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await asyncio.gather(feeder, drain_err, proc.wait())

    return StreamingResponse(stream(), status_code=status, headers=headers)


def record_pushes(
    hub: FakeHub, repo: RepoState, before: dict[str, str], after: dict[str, str]
) -> None:
    changes = []
    for ref in sorted(set(before) | set(after)):
        old, new = before.get(ref, ZERO_SHA), after.get(ref, ZERO_SHA)
        if old == new:
            continue
        rewound = ZERO_SHA not in (old, new) and not gitrepo.is_ancestor(repo.bare, old, new)
        changes.append(Push(repo.full_name, ref, old, new, forced=rewound, via="git"))
    with hub.state.lock:
        hub.state.pushes.extend(changes)


async def git_http(request: Request) -> Response:
    hub = hub_of(request)
    owner, name, rest = (request.path_params[k] for k in ("owner", "repo", "rest"))
    credentials = basic(request.headers.get("authorization"))
    issued = valid_token(hub.state, credentials[1]) if credentials else None
    if credentials is None or issued is None:
        return Response("Invalid username or token.", status_code=401, headers=UNAUTHORIZED_HEADERS)
    with hub.state.lock:
        repo = hub.state.repos.get((owner, name))
        inst = hub.state.installations.get(repo.installation_id) if repo else None
    if repo is None or inst is None or not issued.reaches(repo):
        return Response("Repository not found.", status_code=404)
    body = await request.body()
    env = cgi_env(request, hub.root, f"/{owner}/{name}.git/{rest}", credentials[0], body)
    if inst.permissions.get("workflows") == "write":
        env["FAKEHUB_ALLOW_WORKFLOWS"] = "1"
    if rest != "git-receive-pack":
        return await run_streaming(env, body)
    async with hub.push_lock(repo):
        before = await asyncio.to_thread(gitrepo.list_refs, repo.bare)
        response = await run_buffered(env, body)
        after = await asyncio.to_thread(gitrepo.list_refs, repo.bare)
        await asyncio.to_thread(record_pushes, hub, repo, before, after)
    return response


routes = [Route("/{owner}/{repo}.git/{rest:path}", git_http, methods=["GET", "POST"])]

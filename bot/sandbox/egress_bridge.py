"""How a setup command inside the sandbox reaches the egress proxy: a TCP-to-UNIX-socket bridge
run inside, and the bwrap arguments, environment and shell prefix that set it up.

The setup sandbox keeps its own network namespace (only its own loopback; nothing of the
host's network). The worker's proxy socket (bot/sandbox/egress_proxy.py) is bound read-only at
`SANDBOX_SOCKET` (connect(2) needs no write access to the mount, only to the socket inode,
which the sandbox shares the worker's uid for) and this file at `SANDBOX_BRIDGE`. The command
is prefixed with a start of this file by the worker's interpreter, `python3 -I -S` (no site,
no user or repository paths, stdlib only: this module imports nothing of `bot`). The bridge
listens on 127.0.0.1:`port` inside the sandbox, then forks: the parent exits 0 only once the
listener exists, so the command starts after it, with no polling; the child forwards each
connection to the socket. It dies with the sandbox (bwrap's pid namespace ends with the
command). Tools find it through HTTP(S)_PROXY, ALL_PROXY and npm's proxy settings; NO_PROXY is
empty so nothing bypasses it (a bypass would just fail: there is no route out).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BRIDGE_FILE",
    "DEFAULT_PORT",
    "PATIENT_CLIENTS",
    "SANDBOX_BRIDGE",
    "SANDBOX_SOCKET",
    "EgressSandbox",
    "egress_sandbox",
]

BRIDGE_FILE = Path(__file__)
SANDBOX_SOCKET = "/run/orchestrate/egress.sock"
SANDBOX_BRIDGE = "/run/orchestrate/egress_bridge.py"
DEFAULT_PORT = 3128
BRIDGE_FAILED_EXIT = 125
# Package tools ride out a short outage of an index themselves (pip retries 5xx and resets,
# uv and npm theirs) before the setup fails and its activity is tried again: more retries and
# longer timeouts than their defaults (pip 5 and 15 s, uv 3 and 30 s, npm 2).
PATIENT_CLIENTS = {
    "PIP_RETRIES": "8",
    "PIP_TIMEOUT": "60",
    "UV_HTTP_RETRIES": "8",
    "UV_HTTP_TIMEOUT": "120",
    "npm_config_fetch_retries": "5",
}
_CHUNK = 65536


@dataclass(frozen=True)
class EgressSandbox:
    """What a setup sandbox needs to reach the proxy: bwrap arguments (mounts), environment
    variables for the command, and a shell prefix that starts the bridge."""

    bwrap_args: tuple[str, ...]
    env: dict[str, str]
    shell_prefix: str

    def wrap(self, command: str) -> str:
        """`command` run after the bridge listens (a failed start exits 125 first)."""
        return self.shell_prefix + command


def egress_sandbox(
    proxy_socket: Path,
    python: str,
    *,
    port: int = DEFAULT_PORT,
    pip_index_url: str | None = None,
    npm_registry_url: str | None = None,
    bridge_file: Path = BRIDGE_FILE,
) -> EgressSandbox:
    """The mounts, environment and prefix for one setup command (pure).

    `python` is an interpreter path visible inside the sandbox (the worker's base interpreter;
    only its standard library is used).
    """
    proxy = f"http://127.0.0.1:{port}"
    env = {name: proxy for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")}
    env |= {name.lower(): proxy for name in env}
    env |= {"NO_PROXY": "", "no_proxy": ""}
    env |= {"npm_config_proxy": proxy, "npm_config_https_proxy": proxy}
    env |= PATIENT_CLIENTS
    if pip_index_url:
        env |= {"PIP_INDEX_URL": pip_index_url, "UV_DEFAULT_INDEX": pip_index_url}
    if npm_registry_url:
        env["npm_config_registry"] = npm_registry_url
    bwrap_args = (
        *("--ro-bind", str(proxy_socket), SANDBOX_SOCKET),
        *("--ro-bind", str(bridge_file), SANDBOX_BRIDGE),
    )
    start = shlex.join(
        [python, "-I", "-S", SANDBOX_BRIDGE, "--port", str(port), "--socket", SANDBOX_SOCKET]
    )
    failed = "echo 'orchestrate: the egress bridge did not start' >&2"
    prefix = f"{start} || {{ {failed}; exit {BRIDGE_FAILED_EXIT}; }}\n"
    return EgressSandbox(bwrap_args, env, prefix)


# --- The bridge itself: runs inside the sandbox, started by the prefix above. ---


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="egress_bridge")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--socket", default=SANDBOX_SOCKET)
    args = parser.parse_args(argv)
    if not os.path.exists(args.socket):
        print(f"egress bridge: no proxy socket at {args.socket}", file=sys.stderr)
        return 1
    try:
        listener = socket.create_server(("127.0.0.1", args.port), backlog=128)
    except OSError as exc:
        print(f"egress bridge: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    if os.fork() != 0:
        return 0  # the listener exists: the command may start
    _detach_stdio()
    asyncio.run(_serve(listener, args.socket))
    return 0


def _detach_stdio() -> None:
    """The command's output pipe must not be held open by the bridge."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


async def _serve(listener: socket.socket, socket_path: str) -> None:
    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_unix_connection(socket_path)
        except OSError:
            writer.close()
            return
        upward = asyncio.create_task(_pipe(reader, up_w))
        try:
            await _pipe(up_r, writer)  # the proxy's end ends the exchange, as in the proxy
        finally:
            upward.cancel()
            for end in (up_w, writer):
                end.close()

    server = await asyncio.start_server(forward, sock=listener)
    async with server:
        await server.serve_forever()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(_CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except OSError:
        sink.close()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

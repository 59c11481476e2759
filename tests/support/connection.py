"""Dropping a client's connection from inside a uvicorn server: the "answer lost" faults.

ASGI has no message for "close the socket without answering", so the loopback servers reach the
connection's transport through uvicorn's server state (matched by the client's address).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn


async def abort_connection(server: uvicorn.Server | None, client: Any) -> bool:
    """Close the connection of `client` (scope["client"]) at once, with nothing more sent;
    return whether it was found. Waits until uvicorn has seen the loss, so the request's ASGI
    cycle ends quietly (no "returned without starting response", no 500 on a dead socket)."""
    if server is None or client is None:
        return False
    address = tuple(client)
    for protocol in list(server.server_state.connections):
        if getattr(protocol, "client", None) == address:
            protocol.transport.abort()
            for _ in range(100):  # connection_lost runs on a later loop iteration
                if protocol not in server.server_state.connections:
                    break
                await asyncio.sleep(0.001)
            return True
    return False

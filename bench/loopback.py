"""The loopback stack every whole-run benchmark starts: fakehub, the scripted model and the
Temporal dev server, each stopped when the caller's exit stack closes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from bot.app.devserver import DevServer
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel

__all__ = ["Loopback", "start_loopback"]


@dataclass(frozen=True)
class Loopback:
    hub: FakeHub
    model: ScriptedModel
    devserver: DevServer


async def start_loopback(stack: contextlib.AsyncExitStack, tmp: Path) -> Loopback:
    hub = FakeHub(tmp / "hub")
    hub.start()
    stack.callback(hub.stop)
    model = ScriptedModel().start()
    stack.callback(model.stop)
    devserver = DevServer(tmp / "temporal" / "temporal.sqlite")
    stack.push_async_callback(devserver.stop)
    await devserver.start()
    return Loopback(hub, model, devserver)

"""Request hooks: a test's callback run by the hub when a matching request arrives (or has been
applied), e.g. to SIGKILL the worker that sent it while its answer is still pending."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    client: tuple[str, int] | None  # the caller's address: its port tells which process sent it


@dataclass
class RequestHook:
    method: str  # "*" matches every method
    path: re.Pattern[str]
    callback: Callable[[SeenRequest], None]
    times: int  # -1: forever
    applied: bool  # False: on arrival (body read); True: after the handler ran, before answering


@dataclass
class Hooks:
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    hooks: list[RequestHook] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)  # raised by callbacks

    def add(self, hook: RequestHook) -> None:
        with self.lock:
            self.hooks.append(hook)

    def clear(self) -> None:
        with self.lock:
            self.hooks.clear()

    def waiting(self, method: str, path: str, *, applied: bool) -> bool:
        with self.lock:
            return any(self._matches(hook, method, path, applied) for hook in self.hooks)

    def fire(self, seen: SeenRequest, *, applied: bool) -> None:
        """Run (and spend one use of) every hook matching `seen`, in the order they were added."""
        with self.lock:
            chosen = [h for h in self.hooks if self._matches(h, seen.method, seen.path, applied)]
            for hook in chosen:
                if hook.times > 0:
                    hook.times -= 1
                    if hook.times == 0:
                        self.hooks.remove(hook)
        for hook in chosen:
            try:
                hook.callback(seen)
            except Exception as exc:  # the test reads them; the request goes on
                with self.lock:
                    self.errors.append(exc)

    @staticmethod
    def _matches(hook: RequestHook, method: str, path: str, applied: bool) -> bool:
        return (
            hook.applied == applied
            and hook.method in ("*", method)
            and hook.path.search(path) is not None
        )

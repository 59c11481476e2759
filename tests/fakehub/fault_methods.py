"""FakeHub's named faults for the durability suite: answers lost after the change was applied,
GitHub's rate limits, failing git pushes and fetches, and request hooks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import ratelimit
from .faults import Fault
from .hooks import RequestHook, SeenRequest

if TYPE_CHECKING:
    from .faults import Faults
    from .hooks import Hooks


class FaultMethods:
    """Mixed into FakeHub: every method builds on `inject` and the hub's faults and hooks."""

    faults: Faults
    hooks: Hooks

    if TYPE_CHECKING:

        def inject(
            self,
            method: str,
            path_regex: str,
            *,
            status: int | None = None,
            delay: float = 0.0,
            times: int = 1,
            body: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None,
            applied: bool = False,
            cut: str | None = None,
        ) -> None: ...

    def inject_lost_answer(
        self,
        method: str,
        path_regex: str,
        *,
        times: int = 1,
        status: int = 502,
        cut: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """ "Applied but answer lost": the next `times` matching requests are served (the comment
        is created, the PR opened, the reaction added), then the client gets `status` (GitHub's
        error JSON) instead of the answer, or with `cut` the connection closes: "before" any
        byte of the answer, or "mid" answer (headers and half the body)."""
        self.inject(
            method, path_regex, status=status, times=times, applied=True, cut=cut, delay=delay
        )

    def inject_rate_limit(
        self,
        method: str,
        path_regex: str,
        kind: str = ratelimit.SECONDARY,
        *,
        status: int = 403,
        retry_after: int | None = None,
        reset_in: float = 60.0,
        times: int = 1,
        installation_id: int = 1,
    ) -> None:
        """Refuse the next `times` matching requests with GitHub's rate-limit answer of `kind`
        (primary, secondary, secondary-content, abuse): `status` 403 or 429, `retry-after`
        seconds when given, the window resetting `reset_in` seconds from the answer."""
        if kind not in ratelimit.KINDS:
            raise ValueError(f"unknown rate-limit kind {kind!r}; one of {ratelimit.KINDS}")

        def respond() -> tuple[int, dict[str, str], dict[str, Any]]:
            return ratelimit.answer(
                kind,
                status,
                retry_after=retry_after,
                reset_in=reset_in,
                installation_id=installation_id,
            )

        fault = Fault(method.upper(), re.compile(path_regex), status, 0.0, times, None)
        fault.respond = respond
        self.faults.add(fault)

    def inject_push_lost(
        self, owner: str, repo: str, *, times: int = 1, status: int = 500, cut: str | None = None
    ) -> None:
        """The next `times` pushes to the repository are applied (refs move, `pushes` records
        them), then git gets `status` or (`cut`) a closed connection instead of the report."""
        path = rf"^/{re.escape(owner)}/{re.escape(repo)}\.git/git-receive-pack$"
        self.inject_lost_answer("POST", path, times=times, status=status, cut=cut)

    def inject_fetch_failure(
        self, owner: str, repo: str, *, times: int = 1, status: int = 500
    ) -> None:
        """The next `times` fetches (or clones) of the repository fail with `status` before any
        object is sent: the upload-pack request is refused."""
        path = rf"^/{re.escape(owner)}/{re.escape(repo)}\.git/git-upload-pack$"
        self.inject("POST", path, status=status, times=times)

    def on_request(
        self,
        method: str,
        path_regex: str,
        callback: Callable[[SeenRequest], None],
        *,
        times: int = 1,
        applied: bool = False,
    ) -> None:
        """Call `callback` (on the hub's server thread) when the next `times` matching requests
        have fully arrived, or with `applied` once their handler ran but before any answer is
        sent: the moment to SIGKILL the sender with its request in flight."""
        hook = RequestHook(method.upper(), re.compile(path_regex), callback, times, applied)
        self.hooks.add(hook)

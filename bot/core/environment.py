"""What the environment phase reports about a repository's environment (the status comment, the
failure comment and the pull request body show it)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

__all__ = ["EnvironmentReport", "EnvironmentStatus"]


class EnvironmentStatus(StrEnum):
    NONE = "none"  # nothing to set up: an empty environment
    CACHED = "cached"
    BUILT = "built"
    FAILED = "failed"


class EnvironmentReport(BaseModel):
    """`description`: what was detected (or the setup command); `egress`: the proxy's
    summary, one line per destination; `output_tail`, `error` and `upstream_faults` only
    when it failed."""

    status: EnvironmentStatus
    description: str = ""
    revision: str = ""  # the commit whose manifests define it
    duration_s: float = 0.0
    key: str = ""
    egress: list[str] = Field(default_factory=list)
    output_tail: str = ""
    error: str = ""
    # What failed at allowed hosts while a setup failed (egress_faults.py): the failure may
    # be theirs, so it is worth trying again; the failure comment names them.
    upstream_faults: list[str] = Field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status is not EnvironmentStatus.FAILED

"""What the app posts about a repository's environment: the status comment's checklist line, the
comment when its setup failed, and the pull request body's line.

What was detected is the app's own words (bot/core/env_detect.py), but it names repository
files and notes: shown with `inline`. The setup's output and the proxy's summary (host names
the repository chose) are untrusted: fenced, or `inline`.
"""

from __future__ import annotations

from bot.core.environment import EnvironmentReport, EnvironmentStatus
from bot.render.markdown import details, fenced, inline

__all__ = ["checklist_line", "failed_comment", "pull_line", "status_text"]

OUTPUT_CHARS = 5000
MAX_REFUSED = 20
_DESCRIPTION_CHARS = 400


def status_text(report: EnvironmentReport | None, *, preparing: bool = False) -> str:
    """`cached`, `built in 41 s`, `nothing to set up`, `failed`: plain words, no markdown."""
    if report is None:
        return "preparing" if preparing else "not prepared yet"
    if report.status is EnvironmentStatus.BUILT:
        return f"built in {_seconds(report.duration_s)}"
    if report.status is EnvironmentStatus.NONE:
        return "nothing to set up"
    return report.status.value


def checklist_line(report: EnvironmentReport | None, *, preparing: bool = False) -> str:
    """`- [x] **environment**: built in 41 s · Python 3.11 virtualenv, pip install …`."""
    done = report is not None and report.usable
    line = f"- [{'x' if done else ' '}] **environment**: {status_text(report, preparing=preparing)}"
    if report is not None and report.status is not EnvironmentStatus.NONE and report.description:
        line += f" · {inline(report.description, _DESCRIPTION_CHARS)}"
    return line


def pull_line(report: EnvironmentReport | None) -> str:
    """The pull request body's line: what was detected, cached or built in N s."""
    if report is None:
        return ""
    if report.status is EnvironmentStatus.NONE:
        return "**Environment:** nothing to set up (no Python or Node manifests found)."
    how = "reused from the cache" if report.status is EnvironmentStatus.CACHED else None
    how = how or f"built in {_seconds(report.duration_s)}"
    return f"**Environment:** {inline(report.description, _DESCRIPTION_CHARS)} ({how})."


def failed_comment(report: EnvironmentReport) -> str:
    """The run stopped before any agent: why, what failed upstream meanwhile, what was
    detected, the setup output's tail (collapsed) and the hosts the proxy refused, with how
    to allow one."""
    reason = inline(report.error or "the setup failed", 500)
    parts = [
        "The run stopped before any agent started: the repository's environment could not "
        f"be built ({reason}).",
    ]
    if report.upstream_faults:
        parts.append(_upstream_faults(report.upstream_faults))
    if report.description:
        parts.append(f"**Detected:** {inline(report.description, _DESCRIPTION_CHARS)}")
    tail = report.output_tail.rstrip()
    if tail:
        shown = tail if len(tail) <= OUTPUT_CHARS else "…" + tail[-OUTPUT_CHARS:]
        parts.append(details("Setup output (last lines)", fenced(shown)))
    refused = [line for line in report.egress if line.startswith("refused ")]
    if refused:
        listed = "\n".join(f"- {inline(line, 400)}" for line in refused[:MAX_REFUSED])
        more = len(refused) - MAX_REFUSED
        if more > 0:
            listed += f"\n- … and {more} more"
        parts.append(
            "**Hosts the setup could not reach** (its network goes only through the "
            f"app's allow-listing proxy):\n\n{listed}\n\nTo allow a host, add it to "
            "`network.allow` in `.github/orchestrate.yml` (the app's operator may limit "
            "what repositories can add)."
        )
    return "\n\n".join(parts) + "\n"


def _upstream_faults(faults: list[str]) -> str:
    listed = "\n".join(f"- {inline(line, 300)}" for line in faults[:MAX_REFUSED])
    return (
        "**Allowed hosts that were failing** (seen by the app's proxy; the setup was tried "
        f"again a few times over some minutes, and failed each time):\n\n{listed}\n\n"
        "If one of them is your package index, it was probably down: start the run again "
        "once it answers. If not, the setup itself may have made those connections fail."
    )


def definition_changed_note(revision: str) -> str:
    """Told with a test round (the fixer reads it) whose branch changes the files that define
    the environment: those run no code with the network until a maintainer merges them."""
    return (
        "[orchestrate] This branch changes files that define the environment. The tests ran "
        f"in the environment of the default branch ({revision[:12]}): dependencies the branch "
        "adds or changes are not installed until a maintainer merges it."
    )


def _seconds(duration: float) -> str:
    if duration < 10:
        return f"{duration:.1f} s"
    if duration < 120:
        return f"{duration:.0f} s"
    return f"{duration // 60:.0f} min {duration % 60:.0f} s"

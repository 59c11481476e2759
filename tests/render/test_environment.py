"""What the app posts about a repository's environment: the checklist line, the pull request's
line and the failure comment, with repository-chosen text (setup output, host names) inert."""

from __future__ import annotations

from bot.core.environment import EnvironmentReport, EnvironmentStatus
from bot.render.environment import (
    OUTPUT_CHARS,
    checklist_line,
    failed_comment,
    pull_line,
    status_text,
)
from tests.render.helpers import PING, body, comment, fence_blocks, make_plan
from tests.support.gfm import render

DETECTED = "Python 3.11 virtualenv, pip install the project (.[test])"


def report(status: EnvironmentStatus, **fields: object) -> EnvironmentReport:
    return EnvironmentReport(status=status, description=DETECTED, **fields)


def test_status_words() -> None:
    """Before, during and after: plain words a terminal can print too."""
    assert status_text(None) == "not prepared yet"
    assert status_text(None, preparing=True) == "preparing"
    assert status_text(report(EnvironmentStatus.BUILT, duration_s=41.2)) == "built in 41 s"
    assert status_text(report(EnvironmentStatus.BUILT, duration_s=4.25)) == "built in 4.2 s"
    assert status_text(report(EnvironmentStatus.BUILT, duration_s=185)) == "built in 3 min 5 s"
    assert status_text(report(EnvironmentStatus.CACHED)) == "cached"
    assert status_text(report(EnvironmentStatus.NONE)) == "nothing to set up"
    assert status_text(report(EnvironmentStatus.FAILED)) == "failed"


def test_checklist_line_ticks_a_usable_environment_and_says_what_was_detected() -> None:
    """Built or cached: ticked, with what was detected (escaped); failed: not ticked."""
    built = checklist_line(report(EnvironmentStatus.BUILT, duration_s=41))
    assert built == (
        "- [x] **environment**: built in 41 s · Python 3.11 virtualenv, pip install the "
        "project (.\\[test\\])"
    )
    assert checklist_line(report(EnvironmentStatus.NONE)) == (
        "- [x] **environment**: nothing to set up"
    )
    assert checklist_line(report(EnvironmentStatus.FAILED)).startswith(
        "- [ ] **environment**: failed · Python"
    )
    assert checklist_line(None, preparing=True) == "- [ ] **environment**: preparing"


def test_the_status_comment_lists_the_environment_first() -> None:
    """The plan comment's progress list starts with the environment's line."""
    line = checklist_line(report(EnvironmentStatus.CACHED))
    text = comment(make_plan(), environment=line)
    progress = text.split("#### Progress\n", 1)[1].splitlines()
    assert progress[0] == line
    assert progress[1].startswith("- [ ] **implement**")


def test_pull_request_line() -> None:
    """The PR body says what was detected and whether it was built (how long) or reused."""
    built = pull_line(report(EnvironmentStatus.BUILT, duration_s=12.5))
    assert built == (
        "**Environment:** Python 3.11 virtualenv, pip install the project (.\\[test\\]) "
        "(built in 12 s)."
    )
    assert pull_line(report(EnvironmentStatus.CACHED)).endswith("(reused from the cache).")
    assert pull_line(report(EnvironmentStatus.NONE)) == (
        "**Environment:** nothing to set up (no Python or Node manifests found)."
    )
    assert pull_line(None) == ""
    text = body(environment=built)
    assert text.split("\n\n")[1] == built  # right after the summary


def test_failed_comment_quotes_the_output_tail_and_the_refused_hosts() -> None:
    """Why, what was detected, the last lines of the output in a collapsed fence, the
    refused hosts and how to allow one."""
    output = "\n".join(f"line {i}" for i in range(2000)) + "\nERROR: boom"
    text = failed_comment(
        report(
            EnvironmentStatus.FAILED,
            error="the setup failed",
            output_tail=output,
            egress=[
                "reached pypi.org:443 (3 connections, 1200 bytes)",
                "refused evil.example:443 (1 connection): evil.example:443 is not on the "
                "egress allow-list.",
            ],
        )
    )
    assert text.startswith(
        "The run stopped before any agent started: the repository's environment could not "
        "be built (the setup failed).\n\n**Detected:** Python 3.11 virtualenv, pip install "
        "the project (.\\[test\\])\n\n<details><summary>Setup output (last lines)</summary>"
    )
    [(fence, lines)] = fence_blocks(text)
    assert fence == "```text"
    assert lines[-1] == "ERROR: boom" and lines[0].startswith("…")
    assert sum(len(line) + 1 for line in lines) <= OUTPUT_CHARS + 2
    assert "- refused evil.example:443 (1 connection): evil.example:443 is not on" in text
    assert "pypi.org" not in text  # only the refused hosts are listed
    assert "add it to `network.allow` in `.github/orchestrate.yml`" in text


def test_failed_comment_keeps_hostile_output_and_host_names_inert() -> None:
    """Setup output and host names are the repository's: no mention, link, HTML or closing
    fence gets through, and the layout is the comment's own."""
    hostile = "```\n</details>\n@octocat closes #1 <img src=x> [x](https://evil.example)"
    text = failed_comment(
        report(
            EnvironmentStatus.FAILED,
            error="the setup failed @admin",
            output_tail=hostile,
            egress=[f"refused {hostile}:443 (1 connection): no"],
        )
    )
    rendered = render(text)
    assert not PING.search("".join(rendered.prose))
    assert rendered.links() == {}
    assert (
        rendered.structure()
        == render(
            failed_comment(
                report(
                    EnvironmentStatus.FAILED,
                    error="x",
                    output_tail="plain",
                    egress=["refused plain:443 (1 connection): no"],
                )
            )
        ).structure()
    )


def test_failed_comment_names_the_upstream_faults_first() -> None:
    """A setup that failed while allowed hosts were failing: the comment lists each fault
    (before what was detected) and says what to do if it was the index; unreachable hosts are not
    offered for `network.allow` (they are allowed already)."""
    text = failed_comment(
        report(
            EnvironmentStatus.FAILED,
            error="the setup failed while an allowed host was failing",
            egress=["unreachable pypi.org:443 (2 connections): cannot reach pypi.org:443"],
            upstream_faults=[
                "files.pythonhosted.org:443: connection reset (3 times)",
                "pypi.org:443: could not connect (Connection refused) (2 times)",
            ],
        )
    )
    assert text == (
        "The run stopped before any agent started: the repository's environment could not "
        "be built (the setup failed while an allowed host was failing).\n\n"
        "**Allowed hosts that were failing** (seen by the app's proxy; the setup was tried "
        "again a few times over some minutes, and failed each time):\n\n"
        "- files.pythonhosted.org:443: connection reset (3 times)\n"
        "- pypi.org:443: could not connect (Connection refused) (2 times)\n\n"
        "If one of them is your package index, it was probably down: start the run again "
        "once it answers. If not, the setup itself may have made those connections fail.\n\n"
        "**Detected:** Python 3.11 virtualenv, pip "
        "install the project (.\\[test\\])\n"
    )


def test_upstream_fault_lines_are_inert() -> None:
    """A fault line names a host the repository chose: no mention, link or HTML gets
    through, and the layout is the comment's own."""
    hostile = "```\n</details>\n@octocat closes #1 <img src=x> [x](https://evil.example)"
    text = failed_comment(
        report(EnvironmentStatus.FAILED, error="x", upstream_faults=[f"{hostile}:443: reset"])
    )
    rendered = render(text)
    assert not PING.search("".join(rendered.prose))
    assert rendered.links() == {}
    plain = failed_comment(
        report(EnvironmentStatus.FAILED, error="x", upstream_faults=["plain:443: reset"])
    )
    assert rendered.structure() == render(plain).structure()

"""The commit write policy, pure: a table of hostile staged entries and what each is refused for."""

from __future__ import annotations

import pytest

from bot.core.commit_policy import (
    DENIED,
    IN_GIT,
    OUTSIDE,
    SUBMODULE,
    Refusal,
    StagedEntry,
    WritePolicy,
    denied_globs,
    reportable,
    resolve_link,
    screen,
)
from bot.core.repo_config import parse_repo_config
from bot.errors import ConfigError

MIB = 1024 * 1024
DEFAULT = WritePolicy()
DOCS = WritePolicy(allowed_globs=("docs/**", "**/*.md"))
SUBMODULES = WritePolicy(allow_submodules=True)
DIRS = WritePolicy(allowed_globs=("docs", "src/*.py"), denied_globs=("docs/private",))
NO_LINKS: dict[str, str] = {}


def file(path: str, size: int = 10) -> StagedEntry:
    return StagedEntry(path=path, size=size)


def link(path: str, target: str | None) -> StagedEntry:
    return StagedEntry(path=path, new_mode="120000", target=target)


def gitlink(path: str) -> StagedEntry:
    return StagedEntry(path=path, new_mode="160000")


def deleted(path: str, mode: str = "100644") -> StagedEntry:
    return StagedEntry(path=path, old_mode=mode, new_mode="000000")


def reason_of(entry: StagedEntry, policy: WritePolicy, links: dict[str, str]) -> str | None:
    found = screen(
        [entry], policy, {**links, **({entry.path: entry.target} if entry.target else {})}
    )
    assert len(found) <= 1
    return found[0].reason if found else None


TARGET_OUT = "symlink target outside the repository"
LOOP_OR_OUT = "symlink target outside the repository (or a loop)"
NOT_PLAIN = "symlink target is not a plain relative path"
CONTROL = "control or separator characters in the name"
TOO_DEEP = "the path is more than 48 levels deep"
TOO_LONG = "the path is longer than 1024 bytes"

CASES: list[tuple[str, StagedEntry, WritePolicy, dict[str, str], str | None]] = [
    ("plain source file", file("src/app.py"), DEFAULT, NO_LINKS, None),
    ("workflow file", file(".github/workflows/ci.yml"), DEFAULT, NO_LINKS, DENIED),
    ("workflow deletion", deleted(".github/workflows/ci.yml"), DEFAULT, NO_LINKS, DENIED),
    ("file AT the workflows dir", file(".github/workflows"), DEFAULT, NO_LINKS, DENIED),
    ("file replacing .github", file(".github"), DEFAULT, NO_LINKS, DENIED),
    ("other .github file", file(".github/CODEOWNERS"), DEFAULT, NO_LINKS, None),
    ("symlink AT workflows", link(".github/workflows", "../ci"), DEFAULT, NO_LINKS, DENIED),
    ("symlink replacing .github", link(".github", "ci"), DEFAULT, NO_LINKS, DENIED),
    ("gitlink AT workflows", gitlink(".github/workflows"), DEFAULT, NO_LINKS, SUBMODULE),
    ("gitlink AT workflows, allowed", gitlink(".github/workflows"), SUBMODULES, NO_LINKS, DENIED),
    (
        "link to workflows",
        link("ci", ".github/workflows"),
        DEFAULT,
        NO_LINKS,
        "symlink target: " + DENIED,
    ),
    ("link to .github", link("ci", ".github"), DEFAULT, NO_LINKS, "symlink target: " + DENIED),
    (
        "link, odd spelling",
        link("ci", "./.github//workflows/"),
        DEFAULT,
        NO_LINKS,
        "symlink target: " + DENIED,
    ),
    (
        "link via ..",
        link("src/ci", "../.github/workflows/x.yml"),
        DEFAULT,
        NO_LINKS,
        "symlink target: " + DENIED,
    ),
    (
        "link via other link",
        link("ci", "gh/workflows"),
        DEFAULT,
        {"gh": ".github"},
        "symlink target: " + DENIED,
    ),
    ("link to a .git", link("hooks", ".git/hooks"), DEFAULT, NO_LINKS, "symlink target: " + IN_GIT),
    ("link, absolute", link("leak", "/proc/1/environ"), DEFAULT, NO_LINKS, TARGET_OUT),
    ("link, .. out", link("docs/up", "../../etc"), DEFAULT, NO_LINKS, LOOP_OR_OUT),
    ("link, just ..", link("up", ".."), DEFAULT, NO_LINKS, LOOP_OR_OUT),
    ("link via link out", link("x", "up/etc"), DEFAULT, {"up": ".."}, LOOP_OR_OUT),
    ("link loop", link("c", "a"), DEFAULT, {"a": "b", "b": "a"}, LOOP_OR_OUT),
    ("link to root", link("root", "."), DEFAULT, NO_LINKS, "symlink target is the repository root"),
    ("link, drive", link("win", "C:/Windows"), DEFAULT, NO_LINKS, TARGET_OUT),
    ("link, backslash", link("win", "..\\..\\etc"), DEFAULT, NO_LINKS, NOT_PLAIN),
    ("link, newline", link("nl", "a\nb"), DEFAULT, NO_LINKS, NOT_PLAIN),
    (
        "link, unreadable",
        link("u", None),
        DEFAULT,
        NO_LINKS,
        "symlink target unreadable or too long",
    ),
    (
        "link, too long",
        link("long", "a/" * 3000),
        DEFAULT,
        NO_LINKS,
        "symlink target unreadable or too long",
    ),
    ("link inside, fine", link("src/util", "../lib/util"), DEFAULT, NO_LINKS, None),
    (
        "symlinked .gitattributes",
        link(".gitattributes", "x"),
        DEFAULT,
        NO_LINKS,
        "git metadata files may not be symlinks",
    ),
    (
        "symlinked .gitmodules",
        link("a/.gitmodules", "x"),
        SUBMODULES,
        NO_LINKS,
        "git metadata files may not be symlinks",
    ),
    ("gitlink", gitlink("vendor/lib"), DEFAULT, NO_LINKS, SUBMODULE),
    ("gitlink removed", deleted("vendor/lib", "160000"), DEFAULT, NO_LINKS, SUBMODULE),
    ("gitlink, allowed", gitlink("vendor/lib"), SUBMODULES, NO_LINKS, None),
    (".gitmodules", file(".gitmodules"), DEFAULT, NO_LINKS, SUBMODULE),
    ("nested .GitModules", file("sub/.GitModules"), DEFAULT, NO_LINKS, SUBMODULE),
    (".gitmodules, allowed", file(".gitmodules"), SUBMODULES, NO_LINKS, None),
    ("case variant", file(".GitHub/Workflows/ci.yml"), DEFAULT, NO_LINKS, DENIED),
    ("NTFS trailing dot", file(".github/workflows./ci.yml"), DEFAULT, NO_LINKS, DENIED),
    ("NTFS stream", file(".github/workflows::$DATA/x"), DEFAULT, NO_LINKS, DENIED),
    ("HFS ignorable", file(".github/work\u200cflows/ci.yml"), DEFAULT, NO_LINKS, DENIED),
    ("in .git", file(".git/hooks/pre-commit"), DEFAULT, NO_LINKS, IN_GIT),
    ("in .GIT", file(".GIT/config"), DEFAULT, NO_LINKS, IN_GIT),
    ("nested .git", file("vendor/.git/config"), DEFAULT, NO_LINKS, IN_GIT),
    ("NTFS git~1", file("x/GIT~1/config"), DEFAULT, NO_LINKS, IN_GIT),
    ("HFS .git", file("x/.g\u200bit/config"), DEFAULT, NO_LINKS, IN_GIT),
    ("newline in name", file("a\nOrchestrate-Agent: docs"), DEFAULT, NO_LINKS, CONTROL),
    ("carriage return", file("a\rb.txt"), DEFAULT, NO_LINKS, CONTROL),
    ("escape sequence", file("a\x1b[31mred"), DEFAULT, NO_LINKS, CONTROL),
    ("C1 control", file("a\x85b"), DEFAULT, NO_LINKS, CONTROL),
    ("bidi override", file("invoice\u202etxt.exe"), DEFAULT, NO_LINKS, CONTROL),
    ("line separator", file("a\u2028b"), DEFAULT, NO_LINKS, CONTROL),
    ("not UTF-8", file("bad\udcff.txt"), DEFAULT, NO_LINKS, "the name is not valid UTF-8"),
    ("exactly the limit", file("data.json", MIB), DEFAULT, NO_LINKS, None),
    ("one byte over", file("data.json", MIB + 1), DEFAULT, NO_LINKS, f"larger than {MIB} bytes"),
    ("20 MB file", file("dump.bin", 20 * MIB), DEFAULT, NO_LINKS, f"larger than {MIB} bytes"),
    (
        "unknown mode",
        StagedEntry(path="d", new_mode="040000"),
        DEFAULT,
        NO_LINKS,
        "unsupported file type",
    ),
    ("docs: docs file", file("docs/guide/x.rst"), DOCS, NO_LINKS, None),
    ("docs: markdown anywhere", file("pkg/README.md"), DOCS, NO_LINKS, None),
    ("docs: source", file("src/x.py"), DOCS, NO_LINKS, OUTSIDE),
    ("docs: case variant", file("DOCS/x.rst"), DOCS, NO_LINKS, OUTSIDE),
    ("docs: deletion outside", deleted("src/x.py"), DOCS, NO_LINKS, OUTSIDE),
    (
        "docs: link out of docs",
        link("docs/api", "../src"),
        DOCS,
        NO_LINKS,
        "symlink target: " + OUTSIDE,
    ),
    ("docs: link inside docs", link("docs/latest", "v2"), DOCS, NO_LINKS, None),
    ("docs: gitlink in docs", gitlink("docs/theme"), DOCS, NO_LINKS, SUBMODULE),
    ("docs: workflow .md", file(".github/workflows/x.md"), DOCS, NO_LINKS, DENIED),
    ("glob naming a directory", file("docs/deep/a.md"), DIRS, NO_LINKS, None),
    ("denied directory's file", file("docs/private/key.pem"), DIRS, NO_LINKS, DENIED),
    ("denied directory, case", file("docs/Private/key.pem"), DIRS, NO_LINKS, DENIED),
    ("allowed only exactly", file("src/a.py"), DIRS, NO_LINKS, None),
    ("beside an allowed glob", file("src/a.pyc"), DIRS, NO_LINKS, OUTSIDE),
    ("48 levels deep", file("/".join(["d"] * 47 + ["f"])), DEFAULT, NO_LINKS, None),
    ("1,200 levels deep", file("/".join(["d"] * 1200) + "/leaf.txt"), DEFAULT, NO_LINKS, TOO_DEEP),
    ("49 levels deep", file("/".join(["d"] * 48 + ["f"])), DEFAULT, NO_LINKS, TOO_DEEP),
    ("1,024 bytes", file("a/" + "é" * 511), DEFAULT, NO_LINKS, None),
    ("1,025 bytes", file("a/" + "é" * 511 + "x"), DEFAULT, NO_LINKS, TOO_LONG),
    (
        "link into a deep tree",
        link("l", "/".join(["d"] * 60)),
        DEFAULT,
        NO_LINKS,
        "symlink target: " + TOO_DEEP,
    ),
]


@pytest.mark.parametrize(
    ("entry", "policy", "links", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_policy_table(
    entry: StagedEntry, policy: WritePolicy, links: dict[str, str], expected: str | None
) -> None:
    """Each hostile entry is refused for its reason; the harmless ones pass."""
    assert reason_of(entry, policy, links) == expected


def test_commit_total_is_capped_in_path_order() -> None:
    """Files within the per-file limit still stop once the commit's total passes its cap."""
    entries = [file(f"data/{n:02}.bin", MIB) for n in range(12)]
    refused = screen(entries, DEFAULT, NO_LINKS)
    assert [r.path for r in refused] == ["data/10.bin", "data/11.bin"]
    assert {r.reason for r in refused} == {f"the commit would pass {10 * MIB} bytes"}


def test_refused_entries_do_not_count_towards_the_total() -> None:
    """An oversized file refused on its own does not use up the commit's budget."""
    entries = [file("a.bin", 50 * MIB), *(file(f"b{n}.bin", MIB) for n in range(10))]
    assert [r.path for r in screen(entries, DEFAULT, NO_LINKS)] == ["a.bin"]


def test_entangled_entries_go_with_the_refused_one() -> None:
    """A change under (or over) a refused path is refused too: restoring the refused path
    (file ↔ directory) would leave an index git cannot commit."""
    entries = [
        deleted("notes"),  # outside the docs role's paths: refused, so `notes` comes back
        file("notes/a.md"),  # allowed by `**/*.md`, but cannot exist beside the file `notes`
        file("docs/ok.md"),
    ]
    assert screen(entries, DOCS, NO_LINKS) == [
        Refusal(path="notes", reason=OUTSIDE),
        Refusal(path="notes/a.md", reason="depends on another refused change"),
    ]
    replaced = [link(".github/workflows", "../ci"), deleted(".github/workflows/ci.yml")]
    assert [r.reason for r in screen(replaced, DEFAULT, NO_LINKS)] == [DENIED, DENIED]


def test_a_link_through_a_refused_link_is_refused_too() -> None:
    """`wf -> .github/workflows` resolves to `ci` only while the refused link
    `.github/workflows -> ../ci` stands: the target as written is checked as well."""
    entries = [link(".github/workflows", "../ci"), link("wf", ".github/workflows")]
    links = {".github/workflows": "../ci", "wf": ".github/workflows"}
    assert screen(entries, DEFAULT, links) == [
        Refusal(path=".github/workflows", reason=DENIED),
        Refusal(path="wf", reason="symlink target: " + DENIED),
    ]


def test_workflow_edits_allowed_by_config_pass() -> None:
    """With allow_workflow_edits, workflow files and links there pass; the app's config not."""
    allowed = WritePolicy(denied_globs=denied_globs(allow_workflow_edits=True))
    entries = [file(".github/workflows/ci.yml"), link("ci", ".github/workflows")]
    assert screen(entries, allowed, {"ci": ".github/workflows"}) == []
    assert screen([file(".github/orchestrate.yml")], allowed, {}) == [
        Refusal(path=".github/orchestrate.yml", reason=DENIED)
    ]


@pytest.mark.parametrize("allow_workflow_edits", [False, True])
@pytest.mark.parametrize(
    "entry",
    [
        file(".github/orchestrate.yml"),
        file(".github/orchestrate.yaml"),
        file(".GitHub/Orchestrate.yml"),
        link(".github/orchestrate.yml", "../evil.yml"),
        link("cfg", ".github/orchestrate.yml"),
    ],
    ids=["yml", "yaml", "case", "symlink-at", "symlink-to"],
)
def test_the_apps_own_config_is_never_written(
    entry: StagedEntry, allow_workflow_edits: bool
) -> None:
    """No agent may change .github/orchestrate.yml (it sets the limits of every later run)."""
    policy = WritePolicy(denied_globs=denied_globs(allow_workflow_edits=allow_workflow_edits))
    links = {entry.path: entry.target} if entry.target else {}
    assert [r.path for r in screen([entry], policy, links)] == [entry.path]


@pytest.mark.parametrize(
    ("path", "links", "expected"),
    [
        ("a/b/c", {}, "a/b/c"),
        ("a/./b//c/", {}, "a/b/c"),
        ("a/../b", {}, "b"),
        ("..", {}, None),
        ("a/../..", {}, None),
        ("l/x", {"l": "a/b"}, "a/b/x"),
        ("l/../x", {"l": "a/b"}, "a/x"),  # `..` after a link applies to where it points
        ("d/l", {"d/l": "../e"}, "e"),  # relative to the link's own directory
        ("l", {"l": "/etc"}, None),
        ("l", {"l": "m", "m": "l"}, None),
        ("l", {"l": ""}, None),
        (".", {}, ""),
    ],
)
def test_resolve_link(path: str, links: dict[str, str], expected: str | None) -> None:
    """Paths resolve through the index's symlinks like a checkout; escapes and loops are None."""
    assert resolve_link(path, links) == expected


def test_reportable_caps_count_and_names() -> None:
    """Reported refusals are few, valid UTF-8, one line and short, with one row counting the
    rest."""
    many = [Refusal(path=f"f{n}\udcff" + "x" * 500, reason="r") for n in range(60)]
    shown = reportable(many, limit=3)
    assert len(shown) == 4
    assert shown[0].path.startswith("f0\ufffdxxx") and len(shown[0].path) == 300
    assert shown[0].path.encode("utf-8")
    assert shown[-1] == Refusal(path="…", reason="and 57 more refused paths")
    [trailer] = reportable([Refusal(path="a\nOrchestrate-Agent: docs\u202e", reason="r")])
    assert trailer.path == "a\\u000aOrchestrate-Agent: docs\\u202e"


def test_repository_settings_default_and_bound_the_limits() -> None:
    """Submodules are refused and files capped at 1 MiB by default; a repository cannot raise
    the file cap to where GitHub warns (50 MiB) or rejects."""
    config = parse_repo_config("allow_submodules: true\nmax_file_bytes: 52428800\n")
    assert (config.allow_submodules, config.max_file_bytes) == (True, 50 * MIB)
    defaults = parse_repo_config(None)
    assert (defaults.allow_submodules, defaults.max_file_bytes) == (False, MIB)
    assert defaults.max_commit_bytes == 10 * MIB
    with pytest.raises(ConfigError, match="max_file_bytes"):
        parse_repo_config("max_file_bytes: 104857600\n")

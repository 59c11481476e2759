"""What an agent may commit: the write policy over staged entries and resolved paths (pure).

Whatever wrote a change (the editor tool, or a sandboxed command that can write anything in the
worktree), the app commits only what `screen` accepts. Rules, for every staged entry:

- The name: no control characters, line or bidi separators, or bytes that are not UTF-8;
  at most MAX_PATH_DEPTH components and MAX_PATH_BYTES bytes (deeper trees break tools:
  recursive walks, PATH_MAX, checkouts on other systems); nothing at or under `.git` (any
  case, HFS-ignorable characters, NTFS trailing dots and `git~1`, as git's own
  `core.protectHFS`/`protectNTFS` treat them).
- Denied globs (default `.github/workflows/**`) apply to the path, EVERY parent directory of
  it, and the directories the glob protects: an entry at `.github/workflows` or `.github` itself
  (a file, a symlink or a gitlink standing in for the directory) is denied too.
  Denied matching is case-insensitive and ignores what case-insensitive file systems ignore:
  GitHub compares paths case-sensitively, so `.GitHub/Workflows/x.yml` is no workflow there,
  but a checkout on macOS or Windows writes it into `.github/workflows`. Refusing it costs
  nothing legitimate.
- Role globs (an allow-list) match exactly, case-sensitively: the path or one of its parents
  must match. (Exact matching is the strict direction for an allow-list.)
- Symlinks: the target is resolved from the link's directory through the index's other
  symlinks; absolute targets, targets leaving the worktree and loops are refused outright; the
  resolved target must itself pass the `.git`, denied and role rules.
- Gitlinks (mode 160000, old or new side) and `.gitmodules` are submodule changes: refused
  unless the repository config allows submodules.
- Regular files above `max_file_bytes`, and files and links once the commit's total passes
  `max_commit_bytes` or MAX_COMMIT_ENTRIES entries (in path order), are refused.
- An entry whose path is an ancestor or descendant of a refused one is refused too: restoring
  the refused one (file ↔ directory) would otherwise leave an index git cannot commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from bot.core.globs import covered, denied, fold_name

__all__ = [
    "APP_CONFIG_GLOBS",
    "DEFAULT_DENIED_WRITE_GLOBS",
    "DEFAULT_MAX_COMMIT_BYTES",
    "DEFAULT_MAX_FILE_BYTES",
    "MAX_PATH_BYTES",
    "MAX_PATH_DEPTH",
    "WORKFLOW_GLOBS",
    "Refusal",
    "StagedEntry",
    "WritePolicy",
    "denied_globs",
    "path_refusal",
    "reportable",
    "resolve_link",
    "screen",
]

WORKFLOW_GLOBS: tuple[str, ...] = (".github/workflows/**",)
# The app's own settings: an agent that could change them would, once its PR is merged, set the
# limits and permissions of every later run. Denied whatever the repository config says.
APP_CONFIG_GLOBS: tuple[str, ...] = (".github/orchestrate.yml", ".github/orchestrate.yaml")
DEFAULT_DENIED_WRITE_GLOBS: tuple[str, ...] = WORKFLOW_GLOBS + APP_CONFIG_GLOBS
# Agents write source, tests and docs: a file over 1 MiB is a build artefact, a data dump or
# padding, not a reviewable change (GitHub itself warns at 50 MB and rejects 100 MB).
DEFAULT_MAX_FILE_BYTES = 1024 * 1024
DEFAULT_MAX_COMMIT_BYTES = 10 * 1024 * 1024
# Files and links one agent commit may add or change: each is an object in the shared mirror.
MAX_COMMIT_ENTRIES = 5_000


def denied_globs(*, allow_workflow_edits: bool) -> tuple[str, ...]:
    """What no agent may write: workflow files (a push touching them is rejected without the
    workflows permission) unless the repository allows them, and always the app's config."""
    return APP_CONFIG_GLOBS if allow_workflow_edits else DEFAULT_DENIED_WRITE_GLOBS


GITLINK, SYMLINK, DELETED = "160000", "120000", "000000"
REGULAR = ("100644", "100755")
MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit
MAX_PATH_DEPTH = 48  # components of a path; real source trees stay far below
MAX_PATH_BYTES = 1024  # of a path, as UTF-8
MAX_TARGET_CHARS = 4095
MAX_REPORTED = 50
MAX_SHOWN_CHARS = 300

OUTSIDE = "writing here is not allowed for this agent"
DENIED = "writing here is not allowed"
IN_GIT = ".git is off limits"
SUBMODULE = "submodules are not allowed"

# Bidi or line separators that hide what a name says.
_BAD_NAME = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")  # a byte that is not UTF-8, kept by surrogateescape
_GIT_META = frozenset({".gitmodules", ".gitattributes", ".gitignore", ".mailmap"})


class Refusal(BaseModel):
    """One staged path the app did not commit, and a short fixed reason (never model text)."""

    model_config = ConfigDict(frozen=True)

    path: str
    reason: str


@dataclass(frozen=True)
class StagedEntry:
    """One path of `git diff-index --cached HEAD`: its modes, new blob size and link target."""

    path: str
    old_mode: str = DELETED  # DELETED on the old side: the path is new
    new_mode: str = "100644"  # DELETED on the new side: the path is removed
    size: int = 0
    target: str | None = None  # a symlink's target (new side), None when it could not be read


@dataclass(frozen=True)
class WritePolicy:
    allowed_globs: tuple[str, ...] | None = None  # None: anywhere
    denied_globs: tuple[str, ...] = DEFAULT_DENIED_WRITE_GLOBS
    allow_submodules: bool = False
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_commit_bytes: int = DEFAULT_MAX_COMMIT_BYTES


def screen(
    entries: Sequence[StagedEntry], policy: WritePolicy, symlinks: Mapping[str, str]
) -> list[Refusal]:
    """The staged entries that may not be committed, sorted by path.

    `symlinks` maps every symlink of the index (after staging) to its target, so that a target
    is resolved through other links as a checkout would.
    """
    refused: dict[str, str] = {}
    total = count = 0
    for entry in sorted(entries, key=lambda e: e.path):
        reason = entry_refusal(entry, policy, symlinks)
        if reason is None and entry.new_mode in (*REGULAR, SYMLINK):
            total, count = total + entry.size, count + 1
            reason = _past_commit_limits(total, count, policy)
        if reason is not None:
            refused[entry.path] = reason
    _refuse_entangled(entries, refused)
    return [Refusal(path=path, reason=refused[path]) for path in sorted(refused)]


def size_refusals(sizes: Sequence[tuple[str, int]], policy: WritePolicy) -> list[Refusal]:
    """Before staging, so no more than a commit may hold is ever hashed: of the regular files
    and symlinks (path, size: a link's is its target's length), those over `max_file_bytes`,
    then those past `max_commit_bytes` or MAX_COMMIT_ENTRIES, counted in path order as
    `screen` counts them."""
    refused, total, count = [], 0, 0
    for path, size in sorted(sizes):
        if size > policy.max_file_bytes:
            refused.append(Refusal(path=path, reason=_too_large(policy)))
            continue
        total, count = total + size, count + 1
        reason = _past_commit_limits(total, count, policy)
        if reason is not None:
            refused.append(Refusal(path=path, reason=reason))
    return refused


def _past_commit_limits(total: int, count: int, policy: WritePolicy) -> str | None:
    if total > policy.max_commit_bytes:
        return f"the commit would pass {policy.max_commit_bytes} bytes"
    if count > MAX_COMMIT_ENTRIES:
        return f"the commit would pass {MAX_COMMIT_ENTRIES} files"
    return None


def _too_large(policy: WritePolicy) -> str:
    return f"larger than {policy.max_file_bytes} bytes"


def reportable(refusals: Sequence[Refusal], limit: int = MAX_REPORTED) -> list[Refusal]:
    """At most `limit` refusals (plus one that counts the rest) with names that are valid UTF-8,
    hold no control or separator characters (shown as `\\uXXXX`) and are at most
    MAX_SHOWN_CHARS long: they travel in Temporal payloads and commit messages. Neutralising
    them for readers (mentions, markdown) is the renderer's job."""
    shown = [
        Refusal(path=_shown(refusal.path), reason=refusal.reason) for refusal in refusals[:limit]
    ]
    if len(refusals) > limit:
        shown.append(Refusal(path="…", reason=f"and {len(refusals) - limit} more refused paths"))
    return shown


def _shown(path: str) -> str:
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    # A newline in a refused name must not become a line (a trailer) of the commit message.
    text = _BAD_NAME.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def entry_refusal(
    entry: StagedEntry, policy: WritePolicy, symlinks: Mapping[str, str]
) -> str | None:
    """Why this one entry may not be committed, or None."""
    if GITLINK in (entry.old_mode, entry.new_mode) and not policy.allow_submodules:
        return SUBMODULE
    reason = path_refusal(entry.path, policy)
    if reason is not None:
        return reason
    mode = entry.new_mode
    if mode == SYMLINK:
        return _link_refusal(entry, policy, symlinks)
    if mode in REGULAR and entry.size > policy.max_file_bytes:
        return _too_large(policy)
    if mode not in (*REGULAR, SYMLINK, GITLINK, DELETED):
        return "unsupported file type"
    return None


def path_refusal(path: str, policy: WritePolicy) -> str | None:
    """Why writing `path` (worktree-relative, slash-separated) is refused, or None."""
    if _SURROGATE.search(path):
        return "the name is not valid UTF-8"
    if _BAD_NAME.search(path):
        return "control or separator characters in the name"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "the name is not a plain relative path"
    if len(parts) > MAX_PATH_DEPTH:
        return f"the path is more than {MAX_PATH_DEPTH} levels deep"
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        return f"the path is longer than {MAX_PATH_BYTES} bytes"
    folded = [fold_name(part) for part in parts]
    if any(part in (".git", "git~1") for part in folded):
        return IN_GIT
    if ".gitmodules" in folded and not policy.allow_submodules:
        return SUBMODULE
    if denied("/".join(folded), policy.denied_globs):
        return DENIED
    if policy.allowed_globs is not None and not covered(path, policy.allowed_globs):
        return OUTSIDE
    return None


def resolve_link(path: str, symlinks: Mapping[str, str]) -> str | None:
    """The worktree-relative path `path` names once every symlink on it is followed ("" is the
    worktree root); None when it leaves the worktree, is absolute or loops."""
    todo, out, hops = path.split("/"), list[str](), 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
            continue
        target = symlinks.get("/".join([*out, part]))
        if target is None:
            out.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or target.startswith("/") or not target:
            return None
        todo = target.split("/") + todo  # relative to the link's directory: `out` stays
    return "/".join(out)


def _link_refusal(
    entry: StagedEntry, policy: WritePolicy, symlinks: Mapping[str, str]
) -> str | None:
    target = entry.target
    if fold_name(entry.path.rsplit("/", 1)[-1]) in _GIT_META:
        return "git metadata files may not be symlinks"  # git fsck and GitHub reject some
    if target is None or not target or len(target) > MAX_TARGET_CHARS:
        return "symlink target unreadable or too long"
    if _BAD_NAME.search(target) or _SURROGATE.search(target) or "\\" in target:
        return "symlink target is not a plain relative path"
    if target.startswith("/") or re.match(r"[A-Za-z]:", target):
        return "symlink target outside the repository"
    directory = entry.path.rsplit("/", 1)[0] if "/" in entry.path else ""
    joined = f"{directory}/{target}" if directory else target
    # The target as written (links on the way not followed) and as resolved through the
    # index's links: a link it passes through may itself be refused and restored.
    for resolved in (
        resolve_link(joined, {}),
        resolve_link(joined, {**symlinks, entry.path: target}),
    ):
        if resolved is None:
            return "symlink target outside the repository (or a loop)"
        if resolved == "":
            return "symlink target is the repository root"
        reason = path_refusal(resolved, policy)
        if reason is not None:
            return f"symlink target: {reason}"
    return None


def _refuse_entangled(entries: Sequence[StagedEntry], refused: dict[str, str]) -> None:
    """Refuse entries whose path is an ancestor or descendant of a refused one, to a fixpoint."""
    changed = True
    while changed:
        changed = False
        ancestors = {p.rsplit("/", n)[0] for p in refused for n in range(1, p.count("/") + 1)}
        for entry in entries:
            if entry.path in refused:
                continue
            parts = entry.path.split("/")
            parents = ("/".join(parts[:n]) for n in range(1, len(parts)))
            if entry.path in ancestors or any(parent in refused for parent in parents):
                refused[entry.path] = "depends on another refused change"
                changed = True

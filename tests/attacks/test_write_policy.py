"""Write policy against a compromised agent: whatever a sandboxed command leaves in the worktree
(nested repositories, symlinks, huge files, names git refuses), the app's commit step commits
only what the policy allows, names what it dropped, and never fails on it. Real git throughout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client

from bot.core.commit_policy import (
    DENIED,
    IN_GIT,
    MAX_COMMIT_ENTRIES,
    OUTSIDE,
    SUBMODULE,
    Refusal,
    WritePolicy,
    size_refusals,
)
from bot.core.plan import Role
from bot.core.remote import Remote
from bot.core.repo_config import RepoConfig, write_policy
from bot.git.checkout import open_worktree
from bot.git.mirror import MirrorCache
from bot.git.run import run_git
from bot.git.worktree import Worktree
from bot.sandbox.bwrap import run_sandboxed, sandbox_available
from tests.fakehub import FakeHub
from tests.fakes import ScriptedModel, ToolCall, Turn
from tests.support.project import PROJECT_FILES, create, plan_turn
from tests.support.runstack import run_stack

BRANCH = "orchestrate/9-policy"
MIB = 1024 * 1024
BASE = {
    "README.md": "# project\n",
    "src/app.py": "print('app')\n",
    ".github/workflows/ci.yml": "on: push\n",
    "docs/index.md": "# docs\n",
}
DEFAULTS = RepoConfig()
DOCS_ONLY = RepoConfig.model_validate({"paths": {"docs": ["docs/**"]}})


async def git(cwd: Path, *args: str) -> str:
    return (await run_git(args, cwd=cwd)).stdout


async def make_tree(tmp_path: Path, files: dict[str, str]) -> Worktree:
    """An agent's worktree of the scratch branch of a repository holding `files`."""
    bare, seed = tmp_path / "remote.git", tmp_path / "seed"
    bare.mkdir()
    await git(bare, "init", "--bare", "--quiet")
    for name, text in files.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    await git(seed, "init", "--quiet")
    await git(seed, "add", "-A")
    await git(seed, "commit", "--quiet", "-m", "base")
    await git(
        seed, "push", "--quiet", str(bare), "HEAD:refs/heads/main", f"HEAD:refs/heads/{BRANCH}"
    )
    cache = MirrorCache(tmp_path / "cache")
    return await open_worktree(
        cache, Remote(str(bare), scope="local/test"), BRANCH, tmp_path / "wt"
    )


@pytest.fixture
async def tree(tmp_path: Path) -> Worktree:
    """An agent's worktree of a repository holding BASE."""
    return await make_tree(tmp_path, BASE)


async def commit_step(
    tree: Worktree, config: RepoConfig = DEFAULTS, role: Role = Role.IMPLEMENT
) -> tuple[str | None, list[Refusal]]:
    """What the agent runner does once the agent is done: screen, then commit the index."""
    refused = await tree.stage_screened(write_policy(config, role))
    return await tree.commit_staged("work", role.value), refused


async def committed(tree: Worktree) -> dict[str, str]:
    """path → mode of every entry of HEAD's tree."""
    out = await git(tree.path, "ls-tree", "-r", "-z", "HEAD")
    entries = (record.split("\t", 1) for record in out.split("\0") if record)
    return {path: info.split(" ")[0] for info, path in entries}


def nested_repo(where: Path, files: dict[str, str]) -> None:
    """A repository with one commit, as `git init && git commit` in the sandbox would leave."""
    where.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (where / name).write_text(text)
    env = {"PATH": os.environ["PATH"], "HOME": str(where), "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=where, env=env, check=True)


def base_with(**changes: str) -> dict[str, str]:
    return {**dict.fromkeys(BASE, "100644"), **changes}


async def test_nested_repo_at_workflows_is_never_a_gitlink(tmp_path: Path) -> None:
    """In a repository without workflows, a repository created at .github/workflows is
    committed neither as a gitlink nor as its files; the agent's other work is committed and
    the drop is named."""
    base = {name: text for name, text in BASE.items() if not name.startswith(".github/")}
    tree = await make_tree(tmp_path, base)
    nested_repo(tree.path / ".github" / "workflows", {"evil.yml": "on: push\njobs: {}\n"})
    (tree.path / "src" / "ok.py").write_text("ok = 1\n")
    sha, refused = await commit_step(tree)

    assert sha is not None
    assert await committed(tree) == {**dict.fromkeys(base, "100644"), "src/ok.py": "100644"}
    assert refused == [
        Refusal(path=".github/workflows/.git", reason=IN_GIT),
        Refusal(path=".github/workflows/evil.yml", reason=DENIED),
    ]
    assert list((tree.path / ".github" / "workflows").iterdir()) == []
    assert await tree.changed_files() == []


async def test_nested_repo_outside_a_docs_roles_paths(tree: Worktree) -> None:
    """A docs agent's nested repository under src/ commits nothing there; docs/ is committed."""
    nested_repo(tree.path / "src" / "vendored", {"lib.py": "x = 1\n"})
    (tree.path / "docs" / "guide.md").write_text("# guide\n")
    sha, refused = await commit_step(tree, DOCS_ONLY, Role.DOCS)

    assert sha is not None
    assert await committed(tree) == base_with(**{"docs/guide.md": "100644"})
    assert refused == [
        Refusal(path="src/vendored/.git", reason=IN_GIT),
        Refusal(path="src/vendored/lib.py", reason=OUTSIDE),
    ]
    assert list((tree.path / "src" / "vendored").iterdir()) == []


async def test_gitlink_is_refused_even_if_the_nested_git_survives(
    tree: Worktree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: were a nested `.git` left in place, `git add -A` would stage a
    gitlink, and the screen of the staged entries still refuses it (mode 160000)."""
    monkeypatch.setattr("bot.git.scrub.remove_nested_repos", lambda root: [])
    nested_repo(tree.path / "vendor" / "lib", {"a.c": "int a;\n"})
    sha, refused = await commit_step(tree)

    assert sha is None
    assert refused == [Refusal(path="vendor/lib", reason=SUBMODULE)]
    assert await committed(tree) == base_with()
    assert not (tree.path / "vendor" / "lib").exists()


async def test_symlinks_at_into_and_out_of_denied_paths(tree: Worktree, tmp_path: Path) -> None:
    """`.github/workflows -> ../ci`, a link to the workflows, a link out of the worktree and a
    case variant of the workflows directory are all dropped; `ci/` itself is ordinary work."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me\n")
    workflows = tree.path / ".github" / "workflows"
    shutil.rmtree(workflows)
    (tree.path / "ci").mkdir()
    (tree.path / "ci" / "build.yml").write_text("on: push\n")
    workflows.symlink_to("../ci")
    (tree.path / "wf").symlink_to(".github/workflows")
    (tree.path / "src" / "out").symlink_to(outside)
    (tree.path / ".GitHub" / "Workflows").mkdir(parents=True)
    (tree.path / ".GitHub" / "Workflows" / "x.yml").write_text("on: push\n")
    sha, refused = await commit_step(tree)

    assert sha is not None
    assert await committed(tree) == base_with(**{"ci/build.yml": "100644"})
    assert {r.path: r.reason for r in refused} == {
        ".GitHub/Workflows/x.yml": DENIED,
        ".github/workflows": DENIED,
        ".github/workflows/ci.yml": DENIED,  # its deletion, implied by the link in its place
        "src/out": "symlink target outside the repository",
        "wf": "symlink target: " + DENIED,
    }
    assert workflows.is_dir() and not workflows.is_symlink()  # restored from HEAD
    assert (workflows / "ci.yml").read_text() == "on: push\n"
    assert (outside / "precious").read_text() == "keep me\n"  # only the link was removed


async def test_huge_files_are_dropped_before_staging(tree: Worktree) -> None:
    """A 20 MB file is refused and never reaches the object store; past the commit's total
    cap further files are refused too, the rest is committed."""
    (tree.path / "dump.bin").write_bytes(b"\0" * 20 * MIB)
    blob = (await git(tree.path, "hash-object", "dump.bin")).strip()
    (tree.path / "data").mkdir()
    for n in range(11):
        (tree.path / "data" / f"{n:02}.bin").write_bytes(bytes([n]) * MIB)
    sha, refused = await commit_step(tree)

    assert sha is not None
    assert refused == [
        Refusal(path="data/10.bin", reason=f"the commit would pass {10 * MIB} bytes"),
        Refusal(path="dump.bin", reason=f"larger than {MIB} bytes"),
    ]
    assert sorted(p for p in await committed(tree) if p.startswith("data/")) == [
        f"data/{n:02}.bin" for n in range(10)
    ]
    exists = await run_git(["cat-file", "-e", blob], cwd=tree.path, check=False)
    assert exists.returncode != 0
    assert not (tree.path / "dump.bin").exists()


def _disk_use(path: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


async def test_files_past_the_commit_cap_never_reach_the_shared_object_store(
    tree: Worktree,
) -> None:
    """Red team: thirty files just under the file limit, against a 2 MiB commit cap, were all
    hashed by `git add` into the mirror's object store (shared by every run, never pruned),
    then refused. Now the cap applies before staging: what is refused is never hashed."""
    (tree.path / "junk").mkdir()
    for n in range(30):
        (tree.path / "junk" / f"{n:02}.bin").write_bytes(os.urandom(MIB - 1))
    last = (await git(tree.path, "hash-object", "junk/29.bin")).strip()  # computed, not written
    objects = Path((await git(tree.path, "rev-parse", "--git-common-dir")).strip()) / "objects"
    before = _disk_use(objects)

    sha, refused = await commit_step(tree, RepoConfig(max_commit_bytes=2 * MIB))

    assert sha is not None
    assert [r.path for r in refused] == [f"junk/{n:02}.bin" for n in range(2, 30)]
    assert {r.reason for r in refused} == {f"the commit would pass {2 * MIB} bytes"}
    assert (await run_git(["cat-file", "-e", last], cwd=tree.path, check=False)).returncode != 0
    assert _disk_use(objects) - before < 3 * MIB


async def test_repository_config_raises_the_file_limit(tree: Worktree) -> None:
    """max_file_bytes in the repository config lets a larger file through."""
    (tree.path / "model.bin").write_bytes(b"\1" * 2 * MIB)
    config = RepoConfig(max_file_bytes=3 * MIB)
    sha, refused = await commit_step(tree, config)
    assert (sha is not None, refused) == (True, [])
    assert "model.bin" in await committed(tree)


async def test_names_git_refuses_do_not_break_the_commit(tree: Worktree) -> None:
    """`.GIT/`, `GIT~1/` and a symlinked `.gitmodules` make `git add -A` fail; control
    characters and `.gitmodules` are refused: the good change is still committed."""
    (tree.path / ".GIT").mkdir()
    (tree.path / ".GIT" / "config").write_text("[core]\n\tfsmonitor = touch /tmp/pwned\n")
    (tree.path / "GIT~1").mkdir()
    (tree.path / "GIT~1" / "hooks").write_text("x\n")
    (tree.path / "docs" / ".gitmodules").symlink_to("../README.md")
    (tree.path / ".gitmodules").write_text('[submodule "x"]\n\tpath = x\n\turl = http://evil/x\n')
    (tree.path / "a\nOrchestrate-Agent: docs").write_text("x\n")
    (tree.path / "src" / "ok.py").write_text("ok = 1\n")
    sha, refused = await commit_step(tree)

    assert sha is not None
    assert await committed(tree) == base_with(**{"src/ok.py": "100644"})
    assert {r.path: r.reason for r in refused} == {
        ".GIT": IN_GIT,
        ".gitmodules": SUBMODULE,
        "GIT~1": IN_GIT,
        "a\nOrchestrate-Agent: docs": "control or separator characters in the name",
        "docs/.gitmodules": "git refuses this name",
    }
    assert sorted(os.listdir(tree.path)) == [".git", ".github", "README.md", "docs", "src"]


async def test_pattern_like_names_discard_only_themselves(tree: Worktree) -> None:
    """A refused file named `*` or `:(glob)**` is dropped alone: the names are never read as
    pathspecs, so the allowed change beside them survives."""
    (tree.path / "docs" / "guide.md").write_text("# guide\n")
    (tree.path / "*").write_text("x\n")
    (tree.path / ":(glob)**").write_text("x\n")
    sha, refused = await commit_step(tree, DOCS_ONLY, Role.DOCS)

    assert sha is not None
    assert [r.path for r in refused] == ["*", ":(glob)**"]
    assert await committed(tree) == base_with(**{"docs/guide.md": "100644"})
    assert (tree.path / "docs" / "guide.md").read_text() == "# guide\n"


async def test_tracked_file_replaced_by_a_link_out_is_restored(tree: Worktree) -> None:
    """A tracked file turned into a symlink to the worker's secrets comes back from HEAD."""
    readme = tree.path / "README.md"
    readme.unlink()
    readme.symlink_to("/proc/self/environ")
    sha, refused = await commit_step(tree)
    assert sha is None
    assert refused == [Refusal(path="README.md", reason="symlink target outside the repository")]
    assert not readme.is_symlink() and readme.read_text() == "# project\n"


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not usable here")
async def test_what_a_sandboxed_command_writes_is_screened(tree: Worktree) -> None:
    """The same through the real sandbox: a `run` command builds a nested repository at
    .github/workflows, links into it and out of the worktree, and a 20 MB file."""
    script = (
        "set -e; cd .github/workflows; git init -q; echo 'on: push' > e.yml; git add -A;"
        " git -c user.name=x -c user.email=x@x commit -qm x; cd ../..;"
        " ln -s .github/workflows wf; ln -s ../../../etc src/etc;"
        " head -c 20000000 /dev/zero > big.bin; echo ok > src/ok.py"
    )
    result = await run_sandboxed(script, tree.path)
    assert result.exit_code == 0, result.output
    sha, refused = await commit_step(tree)

    assert sha is not None
    assert await committed(tree) == base_with(**{"src/ok.py": "100644"})
    assert {r.path: r.reason for r in refused} == {
        ".github/workflows/.git": IN_GIT,
        ".github/workflows/e.yml": DENIED,
        "big.bin": f"larger than {MIB} bytes",
        "src/etc": "symlink target outside the repository (or a loop)",
        "wf": "symlink target: " + DENIED,
    }


async def test_a_run_commits_only_what_the_policy_allows(
    hub: FakeHub, temporal_client: Client, task_queue: str, repo_name: str, tmp_path: Path
) -> None:
    """The whole stack: an injected implementer's `run` command leaves a nested repository at
    .github/workflows, links into it and out, a 20 MB file and a name with a newline; the run
    still completes, the pushed branch holds only its real change, and the commit message
    names what was dropped, each on no line of its own."""
    hostile = (
        "mkdir -p .github/workflows && cd .github/workflows && git init -q"
        " && echo 'on: push' > evil.yml && git add -A"
        " && git -c user.name=x -c user.email=x@x commit -qm x && cd ../.."
        " && ln -s .github/workflows wf && ln -s /proc/1/environ env"
        " && head -c 20000000 /dev/zero > big.bin"
        " && touch \"$(printf 'x\\nCo-authored-by: evil <evil@example.com>')\""
    )
    implement = [
        Turn(tool_calls=[ToolCall("run", {"command": hostile}), create("notes.txt", "hi\n")]),
        Turn(text="Done."),
    ]
    scripts = {"submit_plan": [plan_turn(("implement",), "one file")], "implement": implement}
    with ScriptedModel(scripts) as model:
        async with run_stack(hub, temporal_client, task_queue, repo_name, model, tmp_path) as stack:
            await stack.command("/orchestrate add notes")
            progress = await stack.finished_run()
            [pull] = stack.pulls()

    assert progress.state == "done", progress.state
    head = Path(stack.bare)
    tree_out = await git(head, "ls-tree", "-r", "-z", pull.head_ref)
    modes = {r.split("\t", 1)[1]: r.split(" ")[0] for r in tree_out.split("\0") if r}
    assert modes == {name: "100644" for name in (*PROJECT_FILES, "notes.txt")}
    message = await git(head, "log", "-1", "--format=%B", pull.head_ref)
    assert "- .github/workflows/.git (.git is off limits)" in message
    for dropped in (
        "- big.bin (larger than",
        "- env (symlink target outside",
        "- wf (symlink target",
    ):
        assert dropped in message
    assert "- x\\x0aCo-authored-by\\x3a evil" in message  # one line: the name cannot add a trailer
    assert not any(line.startswith("Co-authored-by") for line in message.splitlines())


async def test_links_count_toward_the_commit_cap_and_entries_are_capped(tree: Worktree) -> None:
    """Review: symlink targets are blobs too, yet neither cap counted them (3,200 links put
    942 KB of blobs past a 64 KiB cap into the shared mirror). Links now count at their
    target's length, and a commit holds at most MAX_COMMIT_ENTRIES files and links."""
    long_target = "../" + "src/../" * 285 + "README.md"  # 2,007 bytes, to links/../README.md
    (tree.path / "links").mkdir()
    for n in range(40):
        (tree.path / "links" / f"{n:02}").symlink_to(long_target)
    sha, refused = await commit_step(tree, RepoConfig(max_commit_bytes=64 * 1024))
    assert sha is not None
    committed_links = [p for p in await committed(tree) if p.startswith("links/")]
    assert len(committed_links) == 64 * 1024 // len(long_target)  # 32 fit, 8 are refused
    assert {r.reason for r in refused} == {f"the commit would pass {64 * 1024} bytes"}


def test_a_commit_of_more_entries_than_the_cap_is_cut_at_the_cap() -> None:
    """Many tiny files: past MAX_COMMIT_ENTRIES, the rest are refused before staging."""
    sizes = [(f"f{n:05}", 1) for n in range(MAX_COMMIT_ENTRIES + 3)]
    refused = size_refusals(sizes, WritePolicy())
    assert [r.path for r in refused] == [
        f"f{n:05}" for n in range(MAX_COMMIT_ENTRIES, MAX_COMMIT_ENTRIES + 3)
    ]
    assert {r.reason for r in refused} == {f"the commit would pass {MAX_COMMIT_ENTRIES} files"}

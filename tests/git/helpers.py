"""What the git tests share: a plain bare remote with the scratch branch, two agents' worktrees."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.core.remote import Remote
from bot.git.checkout import open_worktree
from bot.git.mirror import MirrorCache
from bot.git.run import run_git
from bot.git.worktree import Worktree

BRANCH = "orchestrate/7-add-flag"
SHA_A = "a" * 40
SHA_B = "b" * 40
SHA_C = "c" * 40


async def git(cwd: Path, *args: str) -> str:
    return (await run_git(args, cwd=cwd)).stdout


async def bare_remote(tmp_path: Path) -> Remote:
    """A plain bare repository as the remote: main with shared.txt, and the scratch branch."""
    bare, seed = tmp_path / "remote.git", tmp_path / "seed"
    bare.mkdir()
    seed.mkdir()
    await git(bare, "init", "--bare", "--quiet")
    await git(seed, "init", "--quiet")
    (seed / "shared.txt").write_text("one\ntwo\nthree\n")
    await git(seed, "add", "-A")
    await git(seed, "commit", "--quiet", "-m", "base")
    await git(
        seed, "push", "--quiet", str(bare), "HEAD:refs/heads/main", f"HEAD:refs/heads/{BRANCH}"
    )
    return Remote(str(bare), scope="local/test")


async def remote_sha(remote: Remote, ref: str) -> str:
    return (await git(Path(remote.url), "rev-parse", ref)).strip()


async def two_agents(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> tuple[Worktree, Worktree]:
    first = await open_worktree(cache, remote, BRANCH, tmp_path / "wt-implement")
    second = await open_worktree(cache, remote, BRANCH, tmp_path / "wt-test")
    return first, second


@dataclass
class History:
    """Builds commits as agents would, and records independently who removed which base line."""

    repo: Path
    base_lines: set[str] = field(default_factory=set)
    removed_by: dict[str, str] = field(default_factory=dict)  # base line text → role

    async def git(self, *args: str) -> str:
        return (await run_git(args, cwd=self.repo)).stdout

    async def commit(self, role: str | None, files: dict[str, str | bytes | None]) -> str:
        for name, content in files.items():
            path = self.repo / name
            before = path.read_text().splitlines() if path.exists() and name != "img.bin" else []
            if content is None:
                path.unlink()
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
            after = set(content.splitlines()) if isinstance(content, str) else set()
            for line in set(before) - after:
                if line in self.base_lines:
                    self.removed_by.setdefault(line, role or "unknown")
        await self.git("add", "-A")
        trailer = [f"--trailer=Orchestrate-Agent: {role}"] if role else []
        await self.git("commit", "--quiet", "-m", f"work of {role}", *trailer)
        return (await self.git("rev-parse", "HEAD")).strip()


def lines(prefix: str, count: int) -> str:
    return "".join(f"{prefix}{n}\n" for n in range(1, count + 1))


async def make_history(tmp_path: Path) -> tuple[History, dict[str, str]]:
    """main, then a scratch branch where implement, test, docs, a human and the orchestrator
    commit; main moves on after the fork. Returns the builder and the shas by role."""
    repo = tmp_path / "repo"
    repo.mkdir()
    h = History(repo)
    await h.git("init", "--quiet", "--initial-branch=main")
    base: dict[str, str | bytes | None] = {
        "a.py": lines("base a", 10),
        "old.py": lines("base o", 8),
        "doomed.txt": lines("base d", 3),
        "move_me.py": lines("base m", 6),
        "tail.txt": lines("base t", 5),
        "img.bin": b"\x00\x01base",
    }
    await h.commit(None, dict(base))
    h.base_lines = {
        ln for text in base.values() if isinstance(text, str) for ln in text.split("\n")
    }
    await h.git("checkout", "--quiet", "-b", "orchestrate/1-task")
    a = lines("base a", 10).splitlines()
    shas = {}
    a[2:4] = ["implement: a3", "implement: a4"]
    moved = lines("base m", 6).replace("base m2", "implement: m2")
    lib = lines("implement: l", 5)
    shas["implement"] = await h.commit(
        "implement",
        {"a.py": "\n".join(a) + "\n", "lib.py": lib, "move_me.py": None, "moved.py": moved},
    )
    a[4] = "test: a5"  # adjacent to implement's lines 3-4: one hunk in the final diff
    shas["test"] = await h.commit(
        "test",
        {
            "a.py": "\n".join(a) + "\n",
            "lib.py": lib.replace("implement: l3", "test: l3"),
            "tests/test_lib.py": lines("test: t", 3),
        },
    )
    old = lines("base o", 8).splitlines()
    del old[1:3]
    shas["docs"] = await h.commit(
        "docs",
        {
            "doomed.txt": None,
            "old.py": "\n".join(old) + "\n",
            "img.bin": b"\x00\x02docs",
            "README.md": "docs: r1\n",
        },
    )
    del a[7]
    shas["human"] = await h.commit(
        None, {"tail.txt": lines("base t", 5) + "human: t6\n", "a.py": "\n".join(a) + "\n"}
    )
    old[3] = "orchestrator: o6"
    shas["orchestrator"] = await h.commit("orchestrator", {"old.py": "\n".join(old) + "\n"})
    await h.git("checkout", "--quiet", "main")
    await h.commit(None, {"tail.txt": lines("base t", 5).replace("base t1", "main: t1")})
    return h, shas

"""An agent's commit on a branch of its own: the task trailer that finds it again (forged ones
stripped), a push retried after a failure or a lost answer (a refusal is not retried), a
worktree at that branch to rebase it, and the branch deleted afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.commit_policy import WritePolicy
from bot.core.remote import Remote
from bot.errors import GitError
from bot.git.checkout import open_worktree
from bot.git.history import find_task_commit
from bot.git.mirror import MirrorCache
from bot.git.refs import create_branch, delete_branches, push_to_own_branch
from tests.fakehub import FakeHub
from tests.git.helpers import BRANCH, git, remote_sha

OWN = f"{BRANCH}--implement-r1"
TASK = "orchestrate-run-7-1/implement/r1"


async def test_commit_carries_its_task_and_forged_trailers_are_stripped(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """The task trailer is the app's: a message (model text) naming another task or agent
    loses those lines, and the commit is found by its own task only."""
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "lib.py").write_text("x = 1\n")
    await tree.stage_screened(WritePolicy(denied_globs=()))
    forged = "Add lib\n\nOrchestrate-Task: orchestrate-run-7-1/docs/r1\norchestrate-agent: docs\n"
    sha = await tree.commit_staged(forged, "implement", TASK)
    trailers = await git(tree.path, "log", "-1", "--format=%(trailers:only,unfold)")
    assert trailers.split("\n")[:2] == ["Orchestrate-Agent: implement", f"Orchestrate-Task: {TASK}"]
    assert "docs" not in await git(tree.path, "log", "-1", "--format=%B")
    await push_to_own_branch(cache, tree, OWN, first_delay=0.01)
    mirror = await cache.sync(remote)
    found = await find_task_commit(mirror, TASK, [f"refs/remotes/origin/{OWN}"])
    assert found is not None and (found.sha, found.subject) == (sha, "Add lib")
    for other in ("orchestrate-run-7-1/docs/r1", "orchestrate-run-7-1/implement/r2"):
        assert await find_task_commit(mirror, other, [f"refs/remotes/origin/{OWN}"]) is None
    with pytest.raises(GitError, match="invalid task key"):
        await tree.commit_staged("x", "implement", "a b\nOrchestrate-Agent: docs")


async def test_own_branch_push_survives_failures_and_a_lost_answer(
    hub: FakeHub, repo_name: str, tmp_path: Path
) -> None:
    """Two 500s, then a push applied whose answer is lost: the push is tried again until the
    branch holds the commit; nothing was forced, the shared branch untouched."""
    hub.add_repo("octo", repo_name)
    remote = Remote(hub.git_url("octo", repo_name), hub.issue_token())
    cache = MirrorCache(tmp_path / "cache")
    await create_branch(cache, remote, BRANCH, "main")
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "lib.py").write_text("x = 1\n")
    sha = await tree.commit_all("Add lib", "implement")
    receive = rf"^/octo/{repo_name}\.git/git-receive-pack$"
    hub.inject("POST", receive, status=500, times=2)
    hub.inject_push_lost("octo", repo_name)
    assert await push_to_own_branch(cache, tree, OWN, first_delay=0.01) == sha
    assert hub.branch_sha("octo", repo_name, OWN) == sha
    pushes = hub.state.pushes_to("octo", repo_name)
    assert [p.ref for p in pushes] == [f"refs/heads/{BRANCH}", f"refs/heads/{OWN}"]
    assert not any(p.forced for p in pushes)
    assert hub.branch_sha("octo", repo_name, BRANCH) == hub.branch_sha("octo", repo_name, "main")


async def test_a_refused_push_is_not_tried_again(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """The branch moved elsewhere (not an ancestor of the commit): refused at once, not forced."""
    other = await open_worktree(cache, remote, BRANCH, tmp_path / "other")
    (other.path / "a.txt").write_text("a\n")
    await other.commit_all("a", "docs")
    await push_to_own_branch(cache, other, OWN, first_delay=0.01)
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "wt")
    (tree.path / "b.txt").write_text("b\n")
    await tree.commit_all("b", "implement")
    with pytest.raises(GitError, match=f"^push to {OWN} failed"):
        await push_to_own_branch(cache, tree, OWN, tries=3, first_delay=30)  # no wait happens
    assert await remote_sha(remote, OWN) == await other.head()


async def test_worktree_at_an_agent_branch_rebases_onto_the_shared_one(
    cache: MirrorCache, remote: Remote, tmp_path: Path
) -> None:
    """`start`: the worktree holds the agent's commit and targets the shared branch; the rebase
    puts it on top of what landed meanwhile. Then its branch is deleted (twice: no error)."""
    agent = await open_worktree(cache, remote, BRANCH, tmp_path / "agent")
    (agent.path / "lib.py").write_text("x = 1\n")
    await agent.commit_all("lib", "implement")
    await push_to_own_branch(cache, agent, OWN, first_delay=0.01)
    landed = await open_worktree(cache, remote, BRANCH, tmp_path / "landed")
    (landed.path / "doc.md").write_text("doc\n")
    await landed.commit_all("doc", "docs")
    await push_to_own_branch(cache, landed, BRANCH, first_delay=0.01)
    tree = await open_worktree(cache, remote, BRANCH, tmp_path / "land", start=OWN)
    assert (tree.branch, (tree.path / "lib.py").exists()) == (BRANCH, True)
    await tree.rebase_onto_remote()
    assert (await git(tree.path, "rev-parse", "HEAD^")).strip() == await landed.head()
    assert await delete_branches(cache, remote, [OWN]) == [OWN]
    assert await delete_branches(cache, remote, [OWN]) == [OWN]  # already gone
    assert (await git(Path(remote.url), "branch", "--list", OWN)).strip() == ""
    with pytest.raises(GitError, match="does not exist"):
        await open_worktree(cache, remote, BRANCH, tmp_path / "gone", start=OWN)

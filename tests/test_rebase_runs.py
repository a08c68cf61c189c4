"""Runs logged while a rebase of their experiment is under way."""

from __future__ import annotations

import sys
from pathlib import Path

import gitlog
from tests.conftest import git, run_cli


def test_a_run_onto_a_branch_being_rebased_says_to_finish_the_rebase(
        repo: Path, tmp_path: Path) -> None:
    """It said 'checked out in another worktree, <this one>' and hinted a checkout
    --detach, while HEAD was detached already: the rebase was what held the branch."""
    with gitlog.start("a", repo=repo) as first:
        first.log_metric("loss", 1.0)
    git(repo, "checkout", "-q", "exp/a")
    editor = {"GIT_SEQUENCE_EDITOR": "sed -i 1s/^pick/edit/"}
    git(repo, "rebase", "-q", "-i", "HEAD~1", env=editor)  # stops at the run commit
    argv = ("run", "-e", "a", "--", sys.executable, "-c", "print(1)")
    done = run_cli(*argv, cwd=repo)
    assert done.returncode == 1
    assert done.stderr == (
        "Error: cannot log a run onto exp/a: this worktree is rebasing it (the rebase ends "
        "by setting exp/a to its own commits, which would drop the run)\nhint: finish the "
        "rebase first (git rebase --continue, or git rebase --abort), then log the run\n")
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", "--detach", str(other), "main")
    elsewhere = run_cli(*argv, cwd=other)
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.startswith(
        f"Error: cannot log a run onto exp/a: the worktree {repo} is rebasing it (")
    assert elsewhere.stderr.endswith(
        f"hint: finish the rebase first (git -C {repo} rebase --continue, or git -C {repo} "
        "rebase --abort), then log the run\n")
    assert git(repo, "rev-parse", "exp/a").strip() == first.commit
    git(repo, "rebase", "--continue")
    assert run_cli(*argv, cwd=repo).returncode == 0  # HEAD on exp/a: into the work tree

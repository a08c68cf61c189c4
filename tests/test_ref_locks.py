"""A branch gitlog moves once for the user (``exp new``, ``exp promote``, ``pull``) that git
will not move: a lock file (a git process running, or one that crashed) or a refusal (a
``reference-transaction`` hook). They were blamed on another writer ('it appeared
meanwhile', 'moved while promoting', 'the branch moved meanwhile')."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_cli
from tests.test_exp import winner  # noqa: F401  (a fixture)
from tests.test_transfer import log_model, pull_refused, team  # noqa: F401  (a fixture)


def test_exp_new_names_a_lock_file_and_a_refusing_hook(winner: Path) -> None:  # noqa: F811
    lock = winner / ".git" / "refs" / "heads" / "exp" / "fresh.lock"
    lock.write_text("")
    proc = run_cli("exp", "new", "fresh", cwd=winner)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"Error: could not create exp/fresh: {lock} exists (a git process still running "
        "holds it, or one that crashed left it)",
        f"hint: if no git process is running, delete {lock}, then try again"]
    lock.unlink()
    hook = winner / ".git" / "hooks" / "reference-transaction"
    hook.write_text("#!/bin/sh\necho 'refs are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    proc = run_cli("exp", "new", "fresh", cwd=winner)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].startswith(
        "Error: could not create exp/fresh: git refused to move refs/heads/exp/fresh: ")
    assert "aborted by hook" in proc.stderr.splitlines()[0]
    assert proc.stderr.splitlines()[1] == "hint: fix what git names, then try again"
    hook.unlink()
    assert git(winner, "branch", "--list", "exp/fresh") == ""


def test_promote_names_a_lock_file_and_changes_nothing(winner: Path) -> None:  # noqa: F811
    main = git(winner, "rev-parse", "main")  # (not checked out: HEAD is on exp/win)
    lock = winner / ".git" / "refs" / "heads" / "main.lock"
    lock.write_text("")
    proc = run_cli("exp", "promote", "win", "--into", "main", cwd=winner)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"Error: could not promote into main; nothing changed: {lock} exists (a git process "
        "still running holds it, or one that crashed left it)")
    assert git(winner, "rev-parse", "main") == main
    assert git(winner, "status", "--porcelain", "--untracked-files=no") == ""


def test_pull_names_a_lock_file_on_the_branch(team: dict[str, Path]) -> None:  # noqa: F811
    a, b = team["a"], team["b"]
    log_model(a, "lk", "v1")
    assert run_cli("push", "lk", cwd=a).returncode == 0
    lock = b / ".git" / "refs" / "heads" / "exp" / "lk.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    assert pull_refused(b, "lk") == (
        f"could not update it: {lock} exists (a git process still running holds it, or one "
        f"that crashed left it); if no git process is running, delete {lock}, then try again")
    lock.unlink()
    assert json.loads(run_cli("pull", "lk", "--format", "json", cwd=b).stdout)[0]["action"] \
        == "created"

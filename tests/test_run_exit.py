"""How a run the script never finished ends: its status and exit code follow the
script's end (``sys.exit(N)``, an uncaught exception), as a ``with`` block and
``gitlog run`` record them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gitlog.layout import yaml_load
from tests.conftest import git, held_branch, run_cli, run_python

START = "import sys, gitlog\nrun = gitlog.start('left')\nrun.log_metric('loss', 0.5)\n"


def ended(repo: Path) -> tuple[str, int | None, list[str]]:
    """(status, exit_code, error messages) of the newest run of exp/left."""
    run_yaml = yaml_load(git(repo, "show", "exp/left:.gitlog/run.yaml"))
    events = git(repo, "show", "exp/left:.gitlog/events.jsonl", check=False)
    errors = [e["message"] for e in map(json.loads, events.splitlines())
              if e["level"] == "error"]
    return run_yaml["status"], run_yaml.get("exit_code"), errors


@pytest.mark.parametrize(("end", "code", "expected"), [
    ("sys.exit(3)", 3, ("failed", 3, ["script exited with code 3"])),
    ("sys.exit('bad data')", 1, ("failed", 1, ["script exited with code 1: bad data"])),
    ("def main():\n    sys.exit(4)\nmain()", 4, ("failed", 4, ["script exited with code 4"])),
    ("sys.exit(0)", 0, ("completed", None, [])),
    ("sys.exit()", 0, ("completed", None, [])),
    ("print('done')", 0, ("completed", None, [])),
    # a sys.exit the script caught and went on from is not how it ended
    ("try:\n    sys.exit(5)\nexcept SystemExit:\n    pass", 0, ("completed", None, [])),
    # exit() and quit() (site's) raise SystemExit without sys.exit: they were 'completed'
    ("exit(4)", 4, ("failed", 4, ["script exited with code 4"])),
    ("def main():\n    quit('bad data')\nmain()", 1,
     ("failed", 1, ["script exited with code 1: bad data"])),
    ("try:\n    exit(5)\nexcept SystemExit:\n    pass", 0, ("completed", None, [])),
])
def test_a_run_left_open_ends_as_the_script_did(repo: Path, end: str, code: int,
                                                  expected: tuple) -> None:
    # it was 'completed' whatever the exit code
    proc = run_python(START + end + "\n", repo)
    assert proc.returncode == code
    assert ended(repo) == expected


def test_an_uncaught_exception_records_exit_code_1(repo: Path) -> None:
    proc = run_python(START + "raise ValueError('diverged')\n", repo)
    assert proc.returncode == 1
    assert ended(repo) == ("failed", 1, ["ValueError: diverged"])


def test_sys_exit_in_a_with_block_records_its_code(repo: Path) -> None:
    proc = run_python("import sys, gitlog\nwith gitlog.start('left'):\n    sys.exit(7)\n", repo)
    assert proc.returncode == 7
    assert ended(repo) == ("failed", 7, ["SystemExit: 7"])


def test_sys_exit_is_given_back_when_the_run_finishes(repo: Path) -> None:
    proc = run_python("import sys, gitlog\nreal = sys.exit\nrun = gitlog.start('left')\n"
                      "wrapped = sys.exit is not real\nrun.finish()\n"
                      "print(wrapped, sys.exit is real)\n", repo)
    assert proc.stdout.split() == ["True", "True"]


def test_exit_and_quit_are_given_back_as_they_were_when_the_run_finishes(repo: Path) -> None:
    proc = run_python("import builtins, gitlog\nreal = exit, quit\nrun = gitlog.start('left')\n"
                      "print(repr(exit), exit is not real[0], quit is not real[1])\n"
                      "run.finish()\nprint((exit, quit) == real)\n", repo)
    assert proc.stdout.splitlines() == ["Use exit() or Ctrl-D (i.e. EOF) to exit True True",
                                        "True"]


def test_under_gitlog_run_the_exit_is_recorded_once(repo: Path) -> None:
    (repo / "fit.py").write_text(START + "sys.exit(3)\n")
    proc = run_cli("run", "-e", "left", "--", sys.executable, "fit.py", cwd=repo)
    assert proc.returncode == 3
    assert ended(repo) == ("failed", 3, ["command exited with code 3"])


@pytest.mark.parametrize(("end", "code", "status"), [("0", 1, "completed"), ("5", 5, "failed")])
def test_gitlog_run_whose_run_cannot_be_committed_exits_non_zero(
        repo: Path, tmp_path: Path, end: str, code: int, status: str) -> None:
    # it exited 0 with a warning: a CI script took the run for logged
    assert run_cli("run", "-e", "left", "--", "true", cwd=repo).returncode == 0
    other = tmp_path / "other"
    command = f"git worktree add -q {other} exp/left; exit {end}"
    proc = run_cli("run", "-e", "left", "--", "sh", "-c", command, cwd=repo)
    assert proc.returncode == code  # the command's own failure wins
    [run_id] = [p.name for p in (repo / ".git/gitlog/runs").iterdir()]
    why, fix = held_branch("left", other)
    assert proc.stderr == (
        f"gitlog: run {run_id} of left: {status} -> not committed\n"
        f"Error: run {run_id} of left not committed: {why}; its data is kept in "
        f"{repo}/.git/gitlog/runs/{run_id}\nhint: {fix}\n")
    git(other, "checkout", "-q", "--detach")
    assert run_cli("recover", cwd=repo).returncode == 0
    assert ended(repo)[0] == status


def test_a_run_the_repository_refuses_fails_at_once_with_git_s_reason(repo: Path) -> None:
    # 200 attempts took over a minute, then blamed 'other writers'
    hook = repo / ".git/hooks/reference-transaction"
    hook.write_text("#!/bin/sh\necho 'exp branches are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    proc = run_cli("run", "-e", "left", "--", "true", cwd=repo)
    assert proc.returncode == 1
    [run_id] = [p.name for p in (repo / ".git/gitlog/runs").iterdir()]
    assert proc.stderr.splitlines()[1:] == [
        f"Error: run {run_id} of left not committed: could not move refs/heads/exp/left: git "
        "refused the update: exp branches are frozen; ref updates aborted by hook; its data "
        f"is kept in {repo}/.git/gitlog/runs/{run_id}",
        "hint: run 'gitlog recover' to commit the run once git accepts it"]
    hook.unlink()
    assert run_cli("recover", cwd=repo).returncode == 0
    assert ended(repo)[0] == "completed"


def test_a_lock_file_left_on_the_branch_is_named(repo: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import gitlog
    from gitlog import refmove

    monkeypatch.setattr(refmove, "STALE_LOCK", 0.3)
    with gitlog.start("left", repo=repo):
        pass
    lock = repo / ".git/refs/heads/exp/left.lock"
    lock.write_text("")  # a git process that crashed left it
    run = gitlog.start("left", repo=repo)
    with pytest.warns(gitlog.GitlogWarning) as caught:
        assert run.finish() is None
    assert str(caught[0].message) == (
        f"gitlog: could not commit run {run.id}: could not move refs/heads/exp/left: {lock} "
        "exists (a git process still running holds it, or one that crashed left it). Its "
        f"data is kept in {repo}/.git/gitlog/runs/{run.id}; if no git process is running, "
        f"delete {lock}; then run 'gitlog recover' to commit the run")
    assert str(run.unstored) == (f"could not move refs/heads/exp/left: {lock} exists (a git "
                                 "process still running holds it, or one that crashed left it)")
    lock.unlink()
    assert run_cli("recover", cwd=repo).returncode == 0
    assert ended(repo)[0] == "completed"

"""A run killed with SIGKILL: `gitlog recover` commits what was flushed."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git, run_cli

TRAIN = """
import gitlog, sys, time
run = gitlog.start("killme", flush_interval=0.1)
run.log_param("lr", 0.5)
for step in range(50):
    run.log_metric("loss", 1.0 / (step + 1))
run.info("halfway")
run.flush()
print("flushed", flush=True)
time.sleep(60)
"""


def test_sigkill_then_recover_commits_flushed_data(repo: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", TRAIN], cwd=repo, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "flushed"
    # While the process lives, recover leaves its run alone.
    live = run_cli("recover", "--format", "json", cwd=repo)
    assert json.loads(live.stdout)[0]["action"] == "running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.1)
    done = run_cli("recover", "--format", "json", cwd=repo)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)[0]
    assert result["action"] == "committed" and result["status"] == "killed"
    metrics = json.loads(git(repo, "show", "exp/killme:.gitlog/metrics.json"))
    assert metrics == {"loss": 1 / 50, "step": 49}
    assert "lr: 0.5" in git(repo, "show", "exp/killme:.gitlog/params.yaml")
    assert "halfway" in git(repo, "show", "exp/killme:.gitlog/events.jsonl")
    assert "Gitlog-Status: killed" in git(repo, "log", "-1", "--format=%B", "exp/killme")
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    # Nothing left to recover; a second call says so.
    again = run_cli("recover", cwd=repo)
    assert again.returncode == 0 and "nothing to recover" in again.stderr
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())


TORN = """
import os, gitlog
run = gitlog.start("torn")
run.log_metric("loss", 0.5)
run.flush()
with open(run.journal.path / "metrics" / "loss.tsv", "a") as fh:
    fh.write("1700000000000\t1\t0.2")  # a write cut short by a kill
os._exit(0)  # vanish without finishing
"""


def test_torn_journal_lines_are_dropped(repo: Path) -> None:
    from gitlog.recover import recover

    assert subprocess.run([sys.executable, "-c", TORN], cwd=repo).returncode == 0
    results = recover(repo)
    assert [r.action for r in results] == ["committed"]
    assert json.loads(git(repo, "show", "exp/torn:.gitlog/metrics.json"))["loss"] == 0.5
    tsv = git(repo, "show", "exp/torn:.gitlog/metrics/loss.tsv")
    assert tsv.endswith("\t0\t0.5\n")


DIES = """
import gitlog, time
run = gitlog.start("dies", flush_interval=0.1)
run.log_metric("loss", 0.5)
time.sleep(0.01)
run.info("last words")
run.flush()
print("flushed", flush=True)
time.sleep(60)
"""


def test_a_recovered_run_ends_when_it_last_recorded_something(repo: Path) -> None:
    # a killed run had no end and no duration: `gitlog ls` dated it by its start
    proc = subprocess.Popen([sys.executable, "-c", DIES], cwd=repo, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "flushed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert run_cli("recover", cwd=repo).returncode == 0
    last = json.loads(git(repo, "show", "exp/dies:.gitlog/events.jsonl").splitlines()[-1])
    assert last["message"] == "last words"
    run = json.loads(run_cli("show", "dies", "--format", "json", cwd=repo).stdout)["run"]
    start = dt.datetime.fromisoformat(run["start"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(last["ts"].replace("Z", "+00:00"))
    assert (run["status"], run["end"], run["duration_s"]) == \
        ("killed", last["ts"], round((end - start).total_seconds(), 3))
    listed = json.loads(run_cli("ls", "--format", "json", cwd=repo).stdout)
    assert [row["last_run"] for row in listed] == [last["ts"]]


def test_a_python_api_run_has_its_duration(repo: Path) -> None:
    import gitlog

    with gitlog.start("timed", repo=repo) as run:
        run.log_metric("loss", 1)
    shown = json.loads(run_cli("show", "timed", "--format", "json", cwd=repo).stdout)["run"]
    start, end = (dt.datetime.fromisoformat(shown[k].replace("Z", "+00:00"))
                  for k in ("start", "end"))
    assert shown["duration_s"] == round((end - start).total_seconds(), 3)


def test_a_run_recover_cannot_commit_is_an_error_with_its_fix(repo: Path) -> None:
    # the table said 'failed' and exit 1, with no error line and no hint on stderr
    code = "import os, gitlog\nrun = gitlog.start('a')\nrun.log_metric('loss', 0.5)\n" \
           "run.flush()\nos._exit(0)\n"
    assert subprocess.run([sys.executable, "-c", code], cwd=repo).returncode == 0
    git(repo, "branch", "exp/a/b")  # a branch inside the run's branch-to-be
    run_id = next((repo / ".git" / "gitlog" / "runs").iterdir()).name
    done = run_cli("recover", "--format", "json", cwd=repo)
    assert done.returncode == 1
    assert json.loads(done.stdout)[0]["action"] == "failed"
    assert done.stderr == (
        f"Error: run {run_id} of a not recovered: could not create exp/a: branch exp/a/b "
        "exists, and git cannot keep a branch inside another\n"
        "hint: rename that branch (git branch -m exp/a/b NEW), then run 'gitlog recover'\n")

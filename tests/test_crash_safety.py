"""What a kill at the wrong moment leaves behind: never a wrong run, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, run_cli

WS_RUN = "import gitlog\nrun = gitlog.start('ws')\nrun.log_metric('loss', 0.5)\nrun.finish()\n"
WS_DIES = "import os, gitlog\nrun = gitlog.start('ws')\nrun.log_metric('acc', 0.9)\n" \
          "run.flush()\nos._exit(0)\n"


def test_a_workspace_write_cut_short_leaves_no_run_and_recover_writes_it_whole(
        repo: Path) -> None:
    # a kill half-way through writing the log folder left the previous run's run.yaml and
    # metrics.json over a mix of both runs' series (a commit took it for the old run),
    # and the temporary file of the write it cut stayed in the working tree
    git(repo, "checkout", "-q", "-b", "exp/ws")
    assert subprocess.run([sys.executable, "-c", WS_RUN], cwd=repo).returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first run")
    assert subprocess.run([sys.executable, "-c", WS_DIES], cwd=repo).returncode == 0
    run_id = next((repo / ".git" / "gitlog" / "runs").iterdir()).name
    log = repo / ".gitlog"
    (log / "metrics" / ".acc.tsv.gitlog-0123abcd").write_text("1700000000000\t0")  # a kill
    (log / "params.yaml").unlink()
    (log / "params.yaml").mkdir()  # a write that fails half-way
    (log / "params.yaml" / "x").write_text("")
    failed = run_cli("recover", cwd=repo)
    assert failed.returncode == 1
    assert sorted(p.relative_to(log).as_posix() for p in log.rglob("*")) == \
        ["events.jsonl", "metrics", "metrics/acc.tsv", "metrics/loss.tsv", "params.yaml",
         "params.yaml/x"]  # no run.yaml, no metrics.json: not a run
    (log / "params.yaml" / "x").unlink()
    (log / "params.yaml").rmdir()
    done = run_cli("recover", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(log).as_posix() for p in log.rglob("*")) == \
        ["events.jsonl", "metrics", "metrics.json", "metrics/acc.tsv", "params.yaml",
         "run.yaml"]
    assert f"id: {run_id}\n" in (log / "run.yaml").read_text()
    assert json.loads((log / "metrics.json").read_text()) == {"acc": 0.9, "step": 0}


EIGHT_DIE = "import os, gitlog\nruns = [gitlog.start(f'm{i}') for i in range(8)]\n" \
            "for run in runs:\n    run.log_metric('loss', 0.5)\n    run.flush()\nos._exit(0)\n"


def test_two_recovers_at_once_commit_each_run_once(repo: Path) -> None:
    # the second one read the meta.json of a journal the first had just removed: exit 3,
    # 'unexpected FileNotFoundError'
    from gitlog.journal import all_journals

    assert subprocess.run([sys.executable, "-c", EIGHT_DIE], cwd=repo).returncode == 0
    listed = all_journals(repo / ".git" / "gitlog")  # what a recover listed ...
    assert len(listed) == 8
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    procs = [subprocess.Popen([sys.executable, "-m", "gitlog", "recover", "--format", "json"],
                              cwd=repo, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    actions = sorted(row["action"] for out, _ in outs for row in json.loads(out or "[]"))
    assert actions.count("committed") == 8 and set(actions) <= {"committed", "running"}
    for i in range(8):
        assert git(repo, "log", "--format=%(trailers:key=Gitlog-Run,valueonly)",
                   f"exp/m{i}").strip().count("\n") == 0
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())
    for journal in listed:  # ... before another stored them: gone, not an error
        assert journal.lock() and journal.gone()
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


TWO_DIE = "import os, gitlog\nruns = [gitlog.start(name) for name in ('a', 'b')]\n" \
          "for run in runs:\n    run.log_metric('loss', 0.5)\n    run.flush()\n" \
          "print(runs[0].id)\nos._exit(0)\n"


def test_a_damaged_journal_does_not_stop_recover_from_committing_the_others(
        repo: Path) -> None:
    # a meta.json of garbage (a disk error) was exit 3, 'unexpected UnicodeDecodeError',
    # and no run at all was recovered
    done = subprocess.run([sys.executable, "-c", TWO_DIE], cwd=repo, capture_output=True,
                          text=True)
    damaged = repo / ".git" / "gitlog" / "runs" / done.stdout.strip()
    (damaged / "meta.json").write_bytes(b"\xa4\x00{garbage")
    out = run_cli("recover", "--format", "json", cwd=repo)
    assert out.returncode == 1
    assert sorted((row["experiment"], row["action"]) for row in json.loads(out.stdout)) == \
        [("", "failed"), ("b", "committed")]
    assert out.stderr == (
        f"Error: run {damaged.name} not recovered: its {damaged}/meta.json is damaged, so "
        "which experiment and code it belongs to is not known\n"
        f"hint: move {damaged} out of {damaged.parent} (its series and events stay readable "
        "there)\n")
    assert json.loads(git(repo, "show", "exp/b:.gitlog/metrics.json")) == \
        {"loss": 0.5, "step": 0}


DISK_FULL = """
import os, resource, signal, gitlog
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit is then EFBIG
run = gitlog.start("full", params={"seed": 1})
for step in range(10):
    run.log_metric("loss", step / 10)
run.flush()
size = os.path.getsize(run.journal.path / "metrics" / "loss.tsv")
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 50, resource.RLIM_INFINITY))  # disk full
for step in range(10, 20):
    run.log_metric("loss", step / 10)
    run.log_metric("acc", 1)  # a new series, small enough for the limit
run.info("disk full")  # so is events.jsonl
run.log_param("notes", "x" * 1000)  # more than the disk holds
run.flush()
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
run.log_metric("loss", 2.0)
run.log_param("epochs", 3)
run.finish()
"""


def test_a_full_disk_warns_and_loses_what_it_cannot_write_and_no_more(repo: Path) -> None:
    # a write() cut short by the full disk left part of a line in the series, and the
    # next flush's line was glued to it: a point with a wrong timestamp in the commit;
    # log_param and run.flush() raised OSError into the training script
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-c", DISK_FULL], cwd=repo, capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "GitlogWarning: gitlog: could not write the run journal, this params record is " \
           "lost: [Errno 27] File too large" in done.stderr
    assert "GitlogWarning: gitlog: could not write the run journal: [Errno 27] File too " \
           "large" in done.stderr
    assert git(repo, "show", "exp/full:.gitlog/params.yaml") == "epochs: 3\nseed: 1\n"
    rows = git(repo, "show", "exp/full:.gitlog/metrics/loss.tsv").splitlines()
    assert [row.split("\t")[1:] for row in rows] == \
        [["step", "loss"]] + [[str(step), str(step / 10)] for step in range(10)] + \
        [["20", "2.0"]]
    # a series (or events) the disk still had room for was lost with the one it had not
    rows = git(repo, "show", "exp/full:.gitlog/metrics/acc.tsv").splitlines()
    assert [row.split("\t")[1:] for row in rows] == \
        [["step", "acc"]] + [[str(step), "1"] for step in range(10)]
    # the run was committed 'completed' with no trace of the 10 points and the params
    # record lost: one error event (written at finish, the space back) and a warning
    lost = ("10 points (loss: 10) and 1 params record lost: the run journal could not be "
            "written (File too large)")
    info, event = [json.loads(line) for line in
                   git(repo, "show", "exp/full:.gitlog/events.jsonl").splitlines()]
    assert (info["message"], info["step"]) == ("disk full", 19)
    assert (event["level"], event["message"], event["step"]) == ("error", lost, 20)
    assert event["fields"] == {"lost_points": {"loss": 10}, "lost_records": {"params": 1},
                               "reason": "[Errno 27] File too large"}
    assert done.stderr.count(f": {lost}\n") == 1
    assert "status: completed" in git(repo, "show", "exp/full:.gitlog/run.yaml")


DAMAGED = """
import os, gitlog
run = gitlog.start("damaged", params={"lr": 0.1})
for step in range(3):
    run.log_metric("loss", step / 10)
run.flush()
with open(run.journal.path / "metrics" / "loss.tsv", "ab") as fh:  # a disk error
    fh.write(b"17000000\\xff\\t3\\n1700000000000\\t4\\t0.4\\n\\xfe\\xff\\tgarbage\\n")
with open(run.journal.path / "params.jsonl", "a") as fh:
    fh.write('[1, 2]\\n')
os._exit(0)
"""


def test_damaged_journal_lines_are_dropped_and_the_rest_recovered(repo: Path) -> None:
    # a series whose last line was not a point was 'failed: 'utf-8' codec can't decode'
    # (or 'not enough values to unpack'), a params line that was not an object 'list'
    # object has no attribute 'items': the whole run stayed unrecovered
    assert subprocess.run([sys.executable, "-c", DAMAGED], cwd=repo).returncode == 0
    done = run_cli("recover", cwd=repo)
    assert done.returncode == 0, done.stderr
    rows = git(repo, "show", "exp/damaged:.gitlog/metrics/loss.tsv").splitlines()
    assert [row.split("\t")[1:] for row in rows] == \
        [["step", "loss"], ["0", "0.0"], ["1", "0.1"], ["2", "0.2"], ["4", "0.4"]]
    assert json.loads(git(repo, "show", "exp/damaged:.gitlog/metrics.json")) == \
        {"loss": 0.4, "step": 4}
    assert git(repo, "show", "exp/damaged:.gitlog/params.yaml") == "lr: 0.1\n"

"""What a kill at the wrong moment leaves behind: never a wrong run, never a crash."""

from __future__ import annotations

import json
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

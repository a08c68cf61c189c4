"""Parallel writers into one experiment branch lose no run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import git

WORKER = """
import gitlog, sys
worker = int(sys.argv[1])
for i in range(20):
    with gitlog.start("shared", flush_interval=30) as run:
        run.log_metric("loss", worker * 100 + i)
"""


def test_eight_processes_twenty_runs_each(repo: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(w)], cwd=repo,
                              stderr=subprocess.PIPE, text=True) for w in range(8)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    runs = git(repo, "log", "--format=%(trailers:key=Gitlog-Run,valueonly)",
               "exp/shared").split()
    assert len(runs) == 160 and len(set(runs)) == 160
    # Every value made it, each exactly once.
    values = set()
    for sha in git(repo, "rev-list", "exp/shared", "--", ".gitlog/run.yaml").split():
        values.add(git(repo, "show", f"{sha}:.gitlog/metrics.json"))
    assert len(values) == 160
    assert subprocess.run(["git", "fsck"], cwd=repo, capture_output=True).returncode == 0

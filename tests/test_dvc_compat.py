"""DVC reads what gitlog writes: metrics show, params diff, plots show."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import gitlog
from tests.conftest import git, run_cli


def dvc(repo: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def dvc_repo(repo: Path) -> Path:
    assert run_cli("init", cwd=repo).returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "set up gitlog")
    for lr, losses in ((0.1, [0.9, 0.5, 0.3]), (0.01, [0.9, 0.8, math.nan])):
        with gitlog.start(f"lr{lr}", params={"lr": lr, "model": {"depth": 3}},
                          repo=repo) as run:
            for value in losses:
                run.log_metric("train/loss", value)
            run.log_metric("acc", 0.5 + lr)
    return repo


def test_dvc_metrics_show_reads_runs_including_nan(dvc_repo: Path) -> None:
    out = json.loads(dvc(dvc_repo, "metrics", "show", "--json", "-a"))
    by_rev = {rev: data["data"][".gitlog/metrics.json"]["data"]
              for rev, data in ((k, v[0] if isinstance(v, list) else v) for k, v in out.items())
              if ".gitlog/metrics.json" in data.get("data", {})
              and "data" in data["data"][".gitlog/metrics.json"]}
    assert by_rev["exp/lr0.1"]["train"]["loss"] == 0.3
    assert by_rev["exp/lr0.1"]["acc"] == 0.6
    assert math.isnan(by_rev["exp/lr0.01"]["train"]["loss"])


def test_dvc_params_diff_between_runs(dvc_repo: Path) -> None:
    out = json.loads(dvc(dvc_repo, "params", "diff", "exp/lr0.1", "exp/lr0.01", "--json"))
    lr = out[".gitlog/params.yaml"]["lr"]
    assert (lr["old"], lr["new"]) == (0.1, 0.01)
    assert "model.depth" not in out[".gitlog/params.yaml"]  # unchanged params are not listed


def test_dvc_plots_show_reads_step_series(dvc_repo: Path) -> None:
    git(dvc_repo, "checkout", "-q", "exp/lr0.1")
    out = json.loads(dvc(dvc_repo, "plots", "show", "--json"))
    text = json.dumps(out)
    assert ".gitlog/metrics/train/loss.tsv" in text
    assert "0.3" in text

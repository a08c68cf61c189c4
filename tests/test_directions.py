"""Which way of a metric is better: counters and settings (step, epoch, a learning rate,
a deployed model's traffic) are neither, so their moves get no better/worse verdict, and
the queries that need a way say so instead of guessing one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gitlog import config
from gitlog.errors import ConfigError
from tests.conftest import git, run_cli
from tests.runrepo import Builder


@pytest.mark.parametrize("metric, way", [
    ("step", "none"), ("epoch", "none"), ("lr", "none"), ("train/lr", "none"),
    ("learning_rate", "none"), ("requests", "none"), ("requests_per_s", "none"),
    ("steps/mean", "none"), ("stepsize", "higher"), ("latency_ms/p99", "lower"),
    ("perplexity", "lower"), ("val/perplexity", "lower"), ("accuracy", "higher"),
    ("loss", "lower"),
])
def test_default_directions(tmp_path: Path, metric: str, way: str) -> None:
    assert config.load(tmp_path).better(metric) == way


def test_a_configured_direction_wins_and_none_is_accepted(tmp_path: Path) -> None:
    (tmp_path / ".gitlog.yaml").write_text(
        "metrics:\n  better: {step: higher, temperature: none}\n")
    cfg = config.load(tmp_path)
    assert (cfg.better("step"), cfg.lower("step")) == ("higher", False)
    assert (cfg.better("temperature"), cfg.lower("temperature")) == ("none", None)
    (tmp_path / ".gitlog.yaml").write_text("metrics:\n  better: {step: neither}\n")
    with pytest.raises(ConfigError, match="metrics.better.step must be 'lower', 'higher' or "
                                          "'none', got 'neither'"):
        config.load(tmp_path)


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, str]]:
    """Three runs of exp/r whose loss falls while their step (where each stopped) and
    learning rate move."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("r", {"loss": 0.5, "step": 10, "lr": 0.1}, parents=[c1])
    r2 = b.run("r", {"loss": 0.4, "step": 20, "lr": 0.05}, parents=[r1])
    r3 = b.run("r", {"loss": 0.3, "step": 15, "lr": 0.05}, parents=[r2])
    repo = tmp_path_factory.mktemp("directions") / "p"
    sha = b.write(repo)
    return repo, {1: sha[r1], 2: sha[r2], 3: sha[r3]}


def test_history_shows_a_counter_s_moves_without_a_verdict(steps: tuple) -> None:
    repo, _ = steps
    proc = run_cli("history", "-m", "step", "-m", "loss", "exp/r", "--format", "json",
                   cwd=repo)
    rows = json.loads(proc.stdout)
    assert [(r["step"], r["step_delta"], r["step_pct"], r["step_verdict"], r["loss_verdict"])
            for r in rows] == [(10, None, None, None, None), (20, 10, 100.0, None, "better"),
                               (15, -5, -25.0, None, "better")]
    table = run_cli("history", "-m", "step", "-m", "lr", "exp/r", cwd=repo).stdout
    lines = table.splitlines()
    assert lines[0].endswith("10 -> 15 over 3 runs (no better way)")
    assert lines[1].endswith("0.1 -> 0.05 over 3 runs (no better way)")
    assert "better" not in "\n".join(lines[3:]) and "worse" not in "\n".join(lines[3:])


def test_queries_that_need_a_way_say_a_counter_has_none(steps: tuple) -> None:
    repo, sha = steps
    proc = run_cli("history", "-m", "step", "exp/r", "--regressions", cwd=repo)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "Error: --regressions tells worse runs by which way of a metric is better, and step "
        "has none (a counter or a setting; see metrics.better in .gitlog.yaml)",
        "hint: set one in .gitlog.yaml: metrics: {better: {step: lower}} (or higher)"]
    # with a metric that has a way, the counter rides along
    rows = json.loads(run_cli("history", "-m", "step", "-m", "lr", "-m", "loss", "exp/r",
                              "--regressions", "--format", "json", cwd=repo).stdout)
    assert rows == []
    proc = run_cli("best", "-m", "step", cwd=repo)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "Error: best ranks runs by which way of a metric is better, and step has none "
        "(a counter or a setting; see metrics.better in .gitlog.yaml)",
        "hint: give --max or --min, or set one in .gitlog.yaml: metrics: {better: {step: "
        "lower}} (or higher)"]
    best = json.loads(run_cli("best", "-m", "step", "--max", "--format", "json",
                              cwd=repo).stdout)
    assert [(r["commit"], r["step"]) for r in best] == [
        (sha[2][:10], 20), (sha[3][:10], 15), (sha[1][:10], 10)]
    before = git(repo, "for-each-ref")
    proc = run_cli("bisect", "-m", "step", "--threshold", "12", "--good", sha[1], "--bad",
                   sha[3], "--", sys.executable, "-c", "pass", cwd=repo)
    assert proc.returncode == 1 and proc.stderr.splitlines()[0] == (
        "Error: bisect tells bad runs from good ones by which way of a metric is better, and "
        "step has none (a counter or a setting; see metrics.better in .gitlog.yaml)")
    assert git(repo, "for-each-ref") == before


def test_compare_gives_a_counter_no_verdict(steps: tuple) -> None:
    repo, sha = steps
    proc = run_cli("compare", sha[1], sha[3], "--format", "json", cwd=repo)
    metrics = {r["key"]: r for r in json.loads(proc.stdout)["rows"]
               if r["section"] == "metrics"}
    assert [(metrics[k]["delta"], metrics[k]["verdict"]) for k in ("step", "lr", "loss")] == [
        (5, None), (-0.05, None), (-0.2, "better")]

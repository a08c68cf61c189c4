"""DVC reads what gitlog writes: metrics show, params diff, plots show."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import gitlog
from gitlog.project import init_project
from tests.conftest import git, run_cli


def dvc(repo: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def dvc_repo(repo: Path) -> Path:
    init_project(repo)  # as gitlog init; its command is tested in test_cli.py
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


def test_after_a_log_dir_change_dvc_reads_the_new_folder_only(dvc_repo: Path) -> None:
    """The run commit kept the old folder's entries beside the new ones: 'dvc metrics
    show' listed .gitlog/metrics.json (stale, or '-' and 'failed to load'). A user's own
    metrics file is kept."""
    config = dvc_repo / ".gitlog.yaml"
    config.write_text(config.read_text().replace("log_dir: .gitlog", "log_dir: logs"))
    dvc_yaml = dvc_repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace(
        "metrics:\n", "metrics:\n- eval/metrics.json\n", 1))
    git(dvc_repo, "commit", "-qam", "log under logs/")
    with gitlog.start("moved", repo=dvc_repo) as run:
        run.log_metric("acc", 0.75)
    assert git(dvc_repo, "show", "exp/moved:dvc.yaml") == (
        "metrics:\n- eval/metrics.json\n- logs/metrics.json\nparams:\n- logs/params.yaml\n"
        "plots:\n- logs/metrics:\n    x: step\n")
    git(dvc_repo, "checkout", "-q", "exp/moved")
    out = json.loads(dvc(dvc_repo, "metrics", "show", "--json"))
    files = next(iter(out.values()))["data"]  # the workspace's revision
    assert sorted(files) == ["eval/metrics.json", "logs/metrics.json"]
    assert files["logs/metrics.json"]["data"] == {"acc": 0.75, "step": 0}
    git(dvc_repo, "checkout", "-q", "main")
    # the workspace's dvc.yaml: 'gitlog init' points it at the new folder the same way
    assert run_cli("init", cwd=dvc_repo).returncode == 0
    assert dvc_yaml.read_text() == git(dvc_repo, "show", "exp/moved:dvc.yaml")


def test_workspace_runs_declare_their_eval_plots_for_dvc(repo: Path) -> None:
    """In the workspace workflow a run's ROC, PR and confusion plots were written to
    .gitlog/plots/ but never declared in dvc.yaml (only run commits got the entries), so
    'dvc plots show' drew none of them. The working tree's dvc.yaml now gets them, the
    pre-commit hook takes them for no code change, and a later run without eval drops
    them (DVC reports a declared folder that is missing)."""
    import numpy as np

    from gitlog.hooks import install
    from tests.hookhelp import commit

    init_project(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "set up gitlog")
    install(repo)
    git(repo, "checkout", "-q", "-b", "exp/ws")
    with gitlog.start(repo=repo) as run:
        run.log_eval(np.array([0, 1, 0, 1]), None, np.array([0.1, 0.9, 0.6, 0.8]))
    git(repo, "add", "-A")
    proc = commit(repo, message="eval run")
    assert proc.returncode == 0, proc.stderr
    plots = json.loads(dvc(repo, "plots", "show", "--json"))["data"]
    assert sorted(p for p in plots if "/plots/" in p) == [
        ".gitlog/plots/confusion/eval.json", ".gitlog/plots/precision_recall/eval.json",
        ".gitlog/plots/roc/eval.json"]
    with gitlog.start(repo=repo) as run:
        run.log_metric("loss", 0.5)
    git(repo, "add", "-A")
    proc = commit(repo, message="plain run")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(dvc(repo, "plots", "show", "--json"))
    assert (sorted(out["data"]), out.get("errors")) == ([".gitlog/metrics/loss.tsv"], None)
    assert git(repo, "show", "HEAD:dvc.yaml") == git(repo, "show", "main:dvc.yaml")
    # a change of the user's own in dvc.yaml is code still: refused without a run
    (repo / "dvc.yaml").write_text(git(repo, "show", "HEAD:dvc.yaml") +
                                   "stages:\n  train:\n    cmd: python train.py\n")
    proc = commit(repo, "-a", message="a stage")
    assert proc.returncode == 1 and "changed since the run: dvc.yaml" in proc.stderr


def test_a_dvc_yaml_that_is_not_yaml_stops_no_run(repo: Path) -> None:
    """A dvc.yaml mid-edit (here an unclosed list) made every run fail to commit: its data
    stuck in the journal, and 'gitlog recover' failed on it too, with ruamel's parser
    message; 'gitlog init' crashed (exit 3). The run is committed with that dvc.yaml as
    it is (DVC reports it); init says what is wrong where, exit 1."""
    (repo / "dvc.yaml").write_text("stages: [\n")
    git(repo, "add", "dvc.yaml")
    git(repo, "commit", "-qm", "half-written stage")
    with gitlog.start("a", repo=repo) as run:
        run.log_metric("loss", 0.5)
    assert run.commit is not None
    assert git(repo, "show", "exp/a:dvc.yaml") == "stages: [\n"
    assert json.loads(git(repo, "show", "exp/a:.gitlog/metrics.json")) == {"loss": 0.5,
                                                                            "step": 0}
    proc = run_cli("init", "--no-dvc", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr == (
        "Error: dvc.yaml is not valid YAML at line 2, column 1: expected the node content, "
        "but found '<stream end>'\nhint: fix dvc.yaml (DVC cannot read it either), then run "
        "'gitlog init' again\n")


def test_dvc_plots_show_reads_series_named_like_its_own_columns(repo: Path) -> None:
    """A series whose last group is a column gitlog or DVC uses ('step', 'timestamp', 'rev')
    was written with a header such as 'timestamp step step': DVC's points of 'x/step' held
    its values as the steps, and 'rev' lost every value to DVC's revision field. Such a
    series' value column is now 'value'."""
    init_project(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "set up gitlog")
    with gitlog.start("cols", repo=repo) as run:
        for step in range(3):
            run.log_metrics({"x/step": 10.0 + step, "rev": 20.0 + step,
                             "timestamp": 30.0 + step, "val/loss": 40.0 + step}, step=step)
    assert git(repo, "show", "exp/cols:.gitlog/metrics/x/step.tsv").splitlines()[0] == (
        "timestamp\tstep\tvalue")
    git(repo, "checkout", "-q", "exp/cols")
    data = json.loads(dvc(repo, "plots", "show", "--json"))["data"]
    got = {path.removeprefix(".gitlog/metrics/").removesuffix(".tsv"):
           [(point["step"], point[column]) for point in plots[0]["content"]["data"]["values"]]
           for path, plots in data.items()
           for column in [plots[0]["content"]["layer"][1]["encoding"]["y"]["field"]]}
    assert got == {"x/step": [("0", "10.0"), ("1", "11.0"), ("2", "12.0")],
                   "rev": [("0", "20.0"), ("1", "21.0"), ("2", "22.0")],
                   "timestamp": [("0", "30.0"), ("1", "31.0"), ("2", "32.0")],
                   "val/loss": [("0", "40.0"), ("1", "41.0"), ("2", "42.0")]}
    # gitlog reads the series as before
    proc = run_cli("history", "-m", "x/step", "--step", "1", "--format", "json", "exp/cols",
                   cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert [row["x/step"] for row in json.loads(proc.stdout)] == [11.0]


def test_names_dvc_would_read_as_one_are_refused(dvc_repo: Path) -> None:
    """'a.b' and 'a/b' in one run wrote metrics.json {"a": {"b": 2}, "a.b": 1}: DVC joins
    groups with '.', and 'dvc metrics show' (-a: for every revision) stopped with
    'ERROR: unexpected error - duplicated key 'a.b''. The second name is refused as the
    value/group clash is; DVC reads the run."""
    with gitlog.start("dots", repo=dvc_repo) as run:
        run.log_metric("val.acc", 0.5)
        with pytest.raises(gitlog.GitlogError) as info:
            run.log_metrics({"loss": 0.1, "val/acc": 0.6})
        run.log_metric("val/loss", 0.2)
    assert str(info.value) == ("invalid metric name 'val/acc': DVC names it 'val.acc', as "
                               "it names metric 'val.acc' (it joins groups with '.')")
    assert info.value.hint == "rename one: 'dvc metrics show' fails on the two"
    git(dvc_repo, "checkout", "-q", "exp/dots")
    out = json.loads(dvc(dvc_repo, "metrics", "show", "--json"))
    assert next(iter(out.values()))["data"][".gitlog/metrics.json"]["data"] == {
        "step": 0, "val": {"loss": 0.2}, "val.acc": 0.5}

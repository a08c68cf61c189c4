"""A commit that holds ``<log_dir>/metrics.json`` without run.yaml (metrics committed by hand,
DVC-style, or an older run) is a run for every command, as it is for history and best."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gitlog
from gitlog.promote import promote
from tests.conftest import git, run_cli
from tests.runrepo import Builder, utc

METRICS = ".gitlog/metrics.json"


def cli(repo: Path, *args: str) -> str:
    proc = run_cli(*args, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def show_json(repo: Path, rev: str) -> dict:
    return json.loads(cli(repo, "show", rev, "--format", "json"))


@pytest.fixture
def by_hand(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """main: c1; exp/a: a gitlog run; exp/m: a commit of train.py and metrics.json alone."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"}, message="initial code")
    a1 = b.run("a", {"loss": 0.9}, parents=[c1], params={"lr": 0.1}, run_id="a1",
               subject="a: first")
    m1 = b.commit("exp/m", {"train.py": "y\n", METRICS: '{"loss": 0.5}\n'}, parents=[c1],
                  message="metrics by hand")
    repo = tmp_path / "p"
    shas = b.write(repo)
    return repo, {"c1": shas[c1], "a1": shas[a1], "m1": shas[m1]}


def test_ls_show_compare_and_logs_take_metrics_alone_as_a_run(
        by_hand: tuple[Path, dict[str, str]]) -> None:
    repo, c = by_hand
    m1 = c["m1"]
    assert [(r["commit"], r["experiment"], r["loss"])
            for r in json.loads(cli(repo, "history", "-m", "loss", "--all", "--format", "json"))
            ] == [(c["a1"][:10], "a", 0.9), (m1[:10], "m", 0.5)]
    assert json.loads(cli(repo, "ls", "--format", "json"))[1] == {
        "experiment": "m", "branch": "exp/m", "runs": 1, "last_run": utc(3), "status": None,
        "loss": 0.5, "accuracy": None}
    assert cli(repo, "show", "m") == (
        "== run ==\n"
        "run\n"
        "experiment      m\n"
        "status\n"
        f"commit          {m1}\n"
        "subject         metrics by hand\n"
        "start\nend\nduration_s\ncommand\nexit_code\nsignal\ncode_commit\ncode_branch\ndirty\n"
        "cpu_time_s\npeak_memory_mb\nhost\n"
        "warnings        0\n"
        "errors          0\n"
        "events          0\n"
        "\n"
        "== metrics ==\n"
        "loss   0.5\n")
    assert show_json(repo, m1[:10])["metrics"] == {"loss": 0.5}
    runs = json.loads(cli(repo, "compare", "a", m1, "--format", "json"))["runs"]
    assert [(r["commit"], r["experiment"], r["run"], r["label"]) for r in runs] == [
        (c["a1"], "a", "a1", f"{c['a1'][:10]} (a)"), (m1, "m", None, f"{m1[:10]} (m)")]
    logs = run_cli("logs", "m", cwd=repo)
    assert (logs.returncode, logs.stdout, logs.stderr) == \
        (0, "", f"gitlog: no events in run {m1[:10]} (it logged none)\n")
    assert cli(repo, "logs", "m", "--format", "json") == "[]\n"
    none = run_cli("show", "main", cwd=repo)  # neither file: still no run
    assert (none.returncode, none.stderr) == (
        1, "Error: this commit holds no run: main\n"
           "hint: pick a run commit from 'git log exp/NAME' or 'gitlog ls'\n")


def test_show_without_a_revision_takes_heads_hand_committed_metrics(repo: Path) -> None:
    """A real ``git commit`` of metrics.json on the experiment branch checked out."""
    git(repo, "checkout", "-q", "-b", "exp/manual")
    (repo / ".gitlog").mkdir()
    (repo / METRICS).write_text('{"loss": 0.25, "step": 3}\n')
    git(repo, "add", METRICS)
    git(repo, "commit", "-q", "-m", "loss after the new loader")
    head = git(repo, "rev-parse", "HEAD").strip()
    run = json.loads(cli(repo, "show", "--format", "json"))
    assert (run["run"]["commit"], run["run"]["experiment"], run["run"]["subject"],
            run["metrics"]) == (head, "manual", "loss after the new loader",
                                {"loss": 0.25, "step": 3})
    rows = json.loads(cli(repo, "ls", "--format", "json"))
    assert [(r["experiment"], r["runs"], r["status"], r["loss"]) for r in rows] == \
        [("manual", 1, None, 0.25)]
    assert gitlog.show(repo=repo).experiment == "manual"


def test_trailers_and_the_branch_name_what_run_yaml_would(tmp_path: Path) -> None:
    """Without run.yaml, show and compare read the run's id, experiment and status from
    its Gitlog-* trailers as git finds them, else take the experiment of the branch that
    holds it: what history shows for each."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    messages = {
        "plain": "A run\n\nGitlog-Run: r-plain\nGitlog-Experiment: named\n"
                 "Gitlog-Status: failed\n",
        "folded": "Folded\n\nbody\n\ngitlog-run: r-folded\nGitlog-Experiment: long\n"
                  "  name\nSigned-off-by: A <a@b>\n",
        "mixed": "Mixed\n\nGitlog-Run: r-mixed\nnot a trailer\nSigned-off-by: A <a@b>\n",
        "prose": "Prose\n\nGitlog-Experiment: ignored\nthis paragraph is prose\n",
        "title": "Gitlog-Run: ignored\n",
    }
    marks = {}
    parent = c1
    for name, message in messages.items():
        parent = marks[name] = b.commit("exp/t", {METRICS: json.dumps({"loss": len(marks)})},
                                        parents=[parent], message=message)
    repo = tmp_path / "p"
    shas = b.write(repo)
    history = {r["commit"]: r for r in json.loads(cli(repo, "history", "-m", "loss", "exp/t",
                                                      "--format", "json"))}
    got = {}
    for name, mark in marks.items():
        run = show_json(repo, shas[mark])["run"]
        got[name] = (run["run"], run["experiment"], run["status"])
        assert run["experiment"] == history[shas[mark][:10]]["experiment"]
    assert got == {
        "plain": ("r-plain", "named", "failed"),
        "folded": ("r-folded", "long name", None),
        "mixed": ("r-mixed", "t", None),
        "prose": (None, "t", None),
        "title": (None, "t", None),
    }
    assert show_json(repo, "r-plain")["run"]["commit"] == shas[marks["plain"]]
    runs = json.loads(cli(repo, "compare", shas[marks["plain"]], "t", "--format", "json"))
    assert [r["label"] for r in runs["runs"]] == [f"{shas[marks['plain']][:10]} (named)",
                                                  f"{shas[marks['title']][:10]} (t)"]


def test_ls_counts_the_runs_history_walks(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c1])
    m1 = b.commit("exp/a", {METRICS: '{"loss": 0.8}\n'}, parents=[r1], message="by hand")
    code = b.commit("exp/a", {"train.py": "y\n"}, parents=[m1], message="code only")
    b.run("a", {"loss": 0.7}, parents=[code])
    repo = tmp_path / "p"
    b.write(repo)
    assert len(json.loads(cli(repo, "history", "-m", "loss", "a", "--format", "json"))) == 3
    assert [r["runs"] for r in json.loads(cli(repo, "ls", "--format", "json"))] == [3]
    assert [r["runs"] for r in json.loads(cli(repo, "exp", "list", "--format", "json"))] == [3]


def test_alerts_compare_with_the_previous_run_history_shows(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"val_acc": 0.9}, parents=[c1], run_id="r1")
    m1 = b.commit("exp/a", {METRICS: '{"val_acc": 0.7}\n'}, parents=[r1], message="by hand")
    r3 = b.run("a", {"val_acc": 0.68}, parents=[m1], run_id="r3")
    repo = tmp_path / "p"
    shas = b.write(repo)
    (repo / ".gitlog.yaml").write_text(
        "alerts:\n  notifiers:\n    log: {type: file, path: alerts.jsonl}\n  rules:\n"
        "    - {name: acc-drop, metric: val_acc, when: drop, by: 0.05, notify: [log]}\n")
    assert json.loads(cli(repo, "alerts", "check", shas[r3], "--format", "json")) == []
    fired = json.loads(cli(repo, "alerts", "check", shas[m1], "--format", "json"))
    assert [r["message"] for r in fired] == [
        f"val_acc dropped by 0.2 (0.9 -> 0.7) vs the previous run ({shas[r1][:10]})"]


def test_promote_and_reproduce_take_a_run_of_metrics_alone(
        by_hand: tuple[Path, dict[str, str]]) -> None:
    repo, c = by_hand
    done = promote(repo, "m")
    message = git(repo, "log", "-1", "--format=%B", done.commit)
    assert message == ("Promote experiment m into main\n\nloss=0.5\n\n"
                       f"Gitlog-Experiment: m\nGitlog-Promoted: exp/m {c['m1']}\n\n")
    git(repo, "branch", "-f", "exp/m", "main")  # m1 is no experiment's tip now ...
    git(repo, "branch", "-f", "exp/other", "main")  # ... and two branches hold it
    proc = run_cli("reproduce", c["m1"], "--", "python", "train.py", cwd=repo)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", f"Error: run {c['m1'][:12]} names no experiment to reproduce it in\n"
               "hint: reproduce the run at an experiment's tip (gitlog reproduce NAME), or "
               "run it anew: gitlog run -e NAME -- python train.py\n")
    assert git(repo, "branch", "--list", "exp/None") == ""


def test_metrics_by_hand_on_top_of_a_run_are_not_that_run(tmp_path: Path) -> None:
    """A commit of metrics.json alone on top of a gitlog run takes the run's run.yaml and
    events.jsonl unchanged: those are the earlier run's, not this commit's."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"}, message="initial code")
    a1 = b.run("a", {"loss": 0.9}, parents=[c1], run_id="a1", subject="a: first",
               code={".gitlog/events.jsonl": '{"level": "info", "message": "epoch 1"}\n'})
    h2 = b.commit("exp/a", {METRICS: '{"loss": 0.4}\n'}, parents=[a1],
                  message="loss by hand")
    repo = tmp_path / "p"
    shas = b.write(repo)
    hand = shas[h2]
    shown = show_json(repo, "a")
    assert (shown["run"]["commit"], shown["run"]["run"], shown["run"]["status"],
            shown["metrics"]) == (hand, None, None, {"loss": 0.4})
    assert show_json(repo, "a1")["run"]["commit"] == shas[a1]  # the id names its own run
    assert [(r["commit"], r["status"]) for r in json.loads(
        cli(repo, "best", "-m", "loss", "--format", "json"))] == \
        [(hand[:10], None), (shas[a1][:10], "completed")]
    logs = run_cli("logs", "a", cwd=repo)
    assert (logs.returncode, logs.stdout, logs.stderr) == \
        (0, "", f"gitlog: no events in run {hand[:10]} (it logged none)\n")
    assert [e["message"] for e in json.loads(cli(repo, "logs", "a1", "--format", "json"))] \
        == ["epoch 1"]


def test_the_no_run_hint_names_the_configured_experiment_prefix(tmp_path: Path) -> None:
    """The hint named 'git log exp/NAME' whatever experiment_prefix said."""
    from tests.runrepo import Builder

    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n", ".gitlog.yaml": "experiment_prefix: runs/\n"})
    b.run("r", {"loss": 0.5}, parents=[c1], branch="runs/r")
    repo = tmp_path / "p"
    b.write(repo)
    for command in ("show", "logs", "artifacts"):
        proc = run_cli(command, "main", cwd=repo)
        assert (proc.returncode, proc.stderr) == (
            1, "Error: this commit holds no run: main\n"
               "hint: pick a run commit from 'git log runs/NAME' or 'gitlog ls'\n"), command

"""compare / diff, best (with --where), blame and logs on repositories with known values."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import gitlog
from gitlog.filters import FilterError, UnknownFieldError, parse
from tests.conftest import git, run_cli, run_python
from tests.runrepo import Builder, iso
from tests.test_history import two_experiments


@pytest.fixture
def twoexp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "proj"
    return path, two_experiments(path)


def cli_json(repo: Path, *args: str) -> object:
    proc = run_cli(*args, "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compare_params_metrics_and_code(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    out = cli_json(repo, "compare", c["a1"], "a")  # a commit and an experiment name
    a1, a4 = f"{c['a1'][:10]} (a)", f"{c['a4'][:10]} (a)"
    assert [r["label"] for r in out["runs"]] == [a1, a4]
    rows = {(r["section"], r["key"]): r for r in out["rows"]}
    assert rows[("params", "lr")] == {"section": "params", "key": "lr", "changed": "*", a1: 0.1,
                                      a4: None, "delta": None, "pct": None, "verdict": None}
    assert rows[("metrics", "loss")] | {} == {
        "section": "metrics", "key": "loss", "changed": "*", a1: 1.0, a4: 0.6, "delta": -0.4,
        "pct": -40.0, "verdict": "better"}
    assert rows[("metrics", "accuracy")]["verdict"] == "better"
    assert out["code"] == [
        {"from": a1, "to": a4, "file": "model.py", "insertions": 1, "deletions": 0},
        {"from": a1, "to": a4, "file": "train.py", "insertions": 1, "deletions": 1}]
    table = run_cli("diff", c["a1"], "a", cwd=repo)
    assert table.returncode == 0
    assert "== params ==" in table.stdout and "== code ==" in table.stdout
    assert "-40%" in table.stdout and "train.py" in table.stdout
    table = run_cli("compare", c["a1"], "a", "--format", "csv", cwd=repo)
    parsed = list(csv.DictReader(io.StringIO(table.stdout)))  # one table, code rows too
    assert [(r["section"], r["key"]) for r in parsed][-2:] == [("code", "model.py"),
                                                             ("code", "train.py")]
    assert parsed[-1] == {"section": "code", "key": "train.py", "changed": "*", a1: "",
                          a4: "+1 -1", "delta": "", "pct": "", "verdict": ""}
    only = cli_json(repo, "compare", "b", "a", "--changed")
    assert all(r["changed"] == "*" for r in only["rows"])


def test_compare_lists_code_files_by_their_names_as_history_does(tmp_path: Path) -> None:
    # git diff --numstat C-quotes a path outside plain ASCII ("na\303\257ve.py")
    # and shows a rename as "{old => new}"; history and blame list the files themselves
    b = Builder()
    c0 = b.commit("main", {"naïve.py": "a\n", "old.py": "x\n"}, message="code")
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    r2 = b.run("a", {"loss": 0.5}, parents=[r1],
               code={"naïve.py": "b\n", "old.py": None, "new.py": "x\n", "tab\tx.py": "t\n"})
    sha = b.write(tmp_path)
    out = cli_json(tmp_path, "compare", sha[r1], sha[r2])
    first, second = f"{sha[r1][:10]} (a)", f"{sha[r2][:10]} (a)"
    assert [(r["file"], r["insertions"], r["deletions"]) for r in out["code"]] == [
        ("naïve.py", 1, 1), ("new.py", 1, 0), ("old.py", 0, 1), ("tab\tx.py", 1, 0)]
    history = cli_json(tmp_path, "history", "-m", "loss", "a")
    assert history[-1]["code_changes"] == [r["file"] for r in out["code"]]
    table = run_cli("compare", sha[r1], sha[r2], cwd=tmp_path)
    assert table.stdout.splitlines()[-4:] == [
        f"{first}  {second}  naïve.py           1          1",
        f"{first}  {second}  new.py             1          0",
        f"{first}  {second}  old.py             0          1",
        f"{first}  {second}  tab x.py           1          0"]
    rows = list(csv.DictReader(io.StringIO(
        run_cli("compare", sha[r1], sha[r2], "--format", "csv", cwd=tmp_path).stdout)))
    assert [(r["key"], r[second]) for r in rows if r["section"] == "code"] == [
        ("naïve.py", "+1 -1"), ("new.py", "+1 -0"), ("old.py", "+0 -1"), ("tab\tx.py", "+1 -0")]


def test_a_run_id_names_one_run_or_is_an_error(tmp_path: Path) -> None:
    # the id was looked up as the start of a trailer: 'show 2024' showed the newest run
    # whose id starts with 2024, whichever it was
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0], run_id="20240101-100000-aaaaaa")
    r2 = b.run("a", {"loss": 0.5}, parents=[r1], run_id="20240101-100000-aaaaaa0")
    r3 = b.run("b", {"loss": 0.7}, parents=[c0], run_id="20240102-090000-bbbbbb")
    sha = b.write(tmp_path)
    for rev, run in (("20240101-100000-aaaaaa", r1), ("20240101-100000-aaaaaa0", r2),
                     ("20240102", r3)):  # the whole id, else the start of just one
        proc = run_cli("show", rev, "--format", "json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["run"]["commit"] == sha[run]
    for rev, ids in (("2024", "20240101-100000-aaaaaa, 20240101-100000-aaaaaa0, "
                               "20240102-090000-bbbbbb"),
                     ("20240101", "20240101-100000-aaaaaa, 20240101-100000-aaaaaa0")):
        for command in (["show", rev], ["logs", rev], ["compare", rev, "b"]):
            proc = run_cli(*command, cwd=tmp_path)
            assert (proc.returncode, proc.stdout) == (1, ""), command
            assert proc.stderr == (f"Error: the ids of {ids.count(',') + 1} runs start with "
                                   f"it ({ids}): {rev}\n"
                                   "hint: give more of the run id, or its commit\n")


def test_compare_needs_two_runs(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    proc = run_cli("compare", "a", cwd=repo)
    assert proc.returncode == 1 and "compare needs at least two runs" in proc.stderr
    proc = run_cli("compare", "a", c["c1"], cwd=repo)
    assert proc.returncode == 1 and "this commit holds no run" in proc.stderr
    api = gitlog.compare(["a", "b"], repo=repo)
    assert [r.key for r in api.section("params") if r.changed] == ["lr"]


def test_compare_takes_a_range_as_its_two_ends(twoexp: tuple[Path, dict]) -> None:
    """'compare a..b' (a range, as history takes) said 'compare needs at least two runs':
    it names two runs, as 'git diff a..b' does; A...B and ^A select commits: refused."""
    repo, c = twoexp
    out = cli_json(repo, "compare", "exp/a..exp/b")
    assert [r["commit"] for r in out["runs"]] == [c["a4"], c["b2"]]
    assert out == cli_json(repo, "compare", "a", "b")
    assert [r.commit for r in gitlog.compare("b..a", repo=repo).runs] == [c["b2"], c["a4"]]
    for rev, hint in (("a...b", "name its two ends: gitlog compare a b"),
                      ("^a", "name the runs themselves: gitlog compare baseline high-lr")):
        proc = run_cli("compare", rev, "b", cwd=repo)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (f"Error: compare takes runs, not a set of commits: {rev}\n"
                               f"hint: {hint}\n")


def test_compare_refuses_one_run_named_twice(twoexp: tuple[Path, dict]) -> None:
    # its two columns had one label: JSON rows kept one of them, CSV had two alike
    repo, c = twoexp
    for revs in (["a", c["a4"]], ["b", "a", "a"]):
        proc = run_cli("compare", *revs, "--format", "json", cwd=repo)
        first, again = revs[-2:] if revs[0] == "b" else revs
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (f"Error: compare got run {c['a4'][:10]} twice ({first} and "
                               f"{again})\nhint: name each run once; 'gitlog history' lists "
                               "an experiment's runs\n")
    with pytest.raises(gitlog.GitlogError, match="twice"):
        gitlog.compare(["a", c["a4"][:7]], repo=repo)


def test_show_and_compare_read_a_run_whose_metrics_json_is_malformed(tmp_path: Path) -> None:
    """history and best skip such a run with a warning; show and compare show it, its
    metrics missing, with the same warning naming the commit."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c1], params={"lr": 0.1})
    r2 = b.run("a", "{\n", parents=[r1], params={"lr": 0.2})
    repo = tmp_path / "p"
    shas = b.write(repo)
    warning = f"warning: commit {shas[r2][:10]}: .gitlog/metrics.json is not valid JSON ("
    proc = run_cli("compare", shas[r1], "a", "--format", "json", cwd=repo)
    assert proc.returncode == 0 and proc.stderr.startswith(warning), proc.stderr
    rows = {(r["section"], r["key"]): r for r in json.loads(proc.stdout)["rows"]}
    assert rows[("metrics", "loss")][f"{shas[r2][:10]} (a)"] is None
    assert rows[("params", "lr")][f"{shas[r2][:10]} (a)"] == 0.2
    proc = run_cli("show", "a", cwd=repo)
    assert proc.returncode == 0 and proc.stderr.startswith(warning), proc.stderr
    assert "== params ==" in proc.stdout and "== metrics ==" not in proc.stdout
    assert gitlog.show("a", repo).record.metrics == {}
    assert gitlog.compare([shas[r1], "a"], repo=repo).warnings[0].startswith(warning[9:])


def test_show_reads_a_run_whose_other_files_are_malformed(tmp_path: Path) -> None:
    """params.yaml that is not YAML, a model.yaml that holds a list, an events line that
    is not JSON: show still shows the run, those parts empty or skipped, and says which
    file of which commit on stderr."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c1], params={"lr": 0.1})
    events = json.dumps({"ts": "t", "level": "info", "message": "kept", "fields": {}})
    b.commit("exp/a", {".gitlog/params.yaml": "lr: [\n", ".gitlog/model.yaml": "- a\n",
                       ".gitlog/events.jsonl": f"{events}\nnot json\n"}, parents=[r1])
    repo = tmp_path / "p"
    shas = b.write(repo)
    tip = git(repo, "rev-parse", "exp/a").strip()[:10]
    proc = run_cli("show", "a", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert f"warning: commit {tip}: .gitlog/params.yaml is not valid YAML (" in proc.stderr
    assert f"warning: commit {tip}: .gitlog/model.yaml holds a list, not a mapping" in \
        proc.stderr
    assert f"warning: commit {tip}: .gitlog/events.jsonl: 1 line not JSON; skipped" in \
        proc.stderr
    assert "== metrics ==\nloss" in proc.stdout and "\nevents          1\n" in proc.stdout
    record = gitlog.show("a", repo).record
    assert (record.params, record.model, len(record.events)) == ({}, {}, 1)
    assert shas[r1]


def test_best_ranks_filters_and_directions(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    rows = cli_json(repo, "best", "-m", "loss")
    assert [(r["rank"], r["commit"], r["loss"]) for r in rows] == [
        (1, c["a4"][:10], 0.6), (2, c["a2"][:10], 0.8), (3, c["b1"][:10], 0.9),
        (4, c["a1"][:10], 1.0), (5, c["b2"][:10], 1.2)]
    assert rows[0]["date"] == iso(7) and rows[0]["experiment"] == "a"
    top = cli_json(repo, "best", "-m", "loss", "--max", "-n", "1")
    assert [r["commit"] for r in top] == [c["b2"][:10]]
    filtered = cli_json(repo, "best", "-m", "accuracy", "--where",
                        "params.lr < 0.05 and not (experiment == 'a' or metrics.loss > 1)")
    assert [(r["commit"], r["accuracy"], r["params.lr"], r["metrics.loss"]) for r in filtered] \
        == [(c["b1"][:10], 0.55, 0.01, 0.9)]
    assert cli_json(repo, "best", "-m", "loss", "--where", "params.lr > 5") == []
    api = gitlog.best("accuracy", where="lr >= 0.02", repo=repo)
    assert [(r.commit, r.value, r.fields) for r in api] == [  # ties: newest first
        (c["b2"], 0.5, {"lr": 0.02}), (c["a1"], 0.5, {"lr": 0.1})]


def test_best_where_errors_point_at_the_column(twoexp: tuple[Path, dict]) -> None:
    repo, _ = twoexp
    proc = run_cli("best", "-m", "loss", "--where", "params.lr <", cwd=repo)
    assert proc.returncode == 1
    assert "Error: bad --where at column 12: expected a field or a value, got the end" \
        in proc.stderr
    assert "hint: write comparisons joined by and/or/not" in proc.stderr
    proc = run_cli("best", "-m", "loss", "--where", "__import__('os').system('x')", cwd=repo)
    assert proc.returncode == 1 and "bad --where at column 17: unexpected '.'" in proc.stderr
    proc = run_cli("best", "-m", "loss", "--where", "", cwd=repo)  # ("$EMPTY"): not all runs
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("Error: bad --where at column 1: the expression is empty\n")
    proc = run_cli("best", "-m", "loss", "--where", "run == 1", cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Error: bad --where at column 8: run is text, never the number or "
                           "boolean 1\nhint: quote it: --where \"run == '1'\"\n")


def test_best_where_takes_a_short_commit_id_as_the_tables_show_it(
        twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    for short in (c["b1"][:10], c["b1"][:4], c["b1"].upper()):
        rows = cli_json(repo, "best", "-m", "loss", "--where", f"commit == '{short}'")
        assert [r["commit"] for r in rows] == [c["b1"][:10]], short
    rows = cli_json(repo, "best", "-m", "loss", "--where", f"'{c['b1'][:7]}' != commit")
    assert len(rows) == 4 and c["b1"][:10] not in [r["commit"] for r in rows]
    proc = run_cli("best", "-m", "loss", "--where", "commit == 'abc'", cwd=repo)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("Error: bad --where at column 11: commit takes a commit id, "
                                  "whole or its first 4 or more hex digits, got 'abc'\nhint: ")


@pytest.mark.parametrize("where, error, hint", [
    ("lossy > 1", "the metric or param 'lossy'", "did you mean loss?"),
    ("params.nosuch != 1", "the param 'params.nosuch'", "known: params.lr"),
    ("params.lrr < 1 or loss < 1", "the param 'params.lrr'", "did you mean params.lr?"),
    ("metrics.acuracy > 0", "the metric 'metrics.acuracy'", "did you mean metrics.accuracy?"),
])
def test_best_where_names_a_field_no_run_has(twoexp: tuple[Path, dict], where: str, error: str,
                                             hint: str) -> None:
    repo, _ = twoexp
    proc = run_cli("best", "-m", "loss", "--where", where, cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"Error: --where names {error}, which no run with the metric loss "
                           f"has\nhint: {hint}\n")


def test_best_and_blame_keep_their_own_columns(tmp_path: Path) -> None:
    """A metric called 'rank' (or 'delta' for blame) wrote its values over that column, and
    a param 'date' named in --where over the run's date: refused as history refuses them,
    or labelled in backticks."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0, "rank": 3, "delta": 1}, parents=[c0], params={"date": 5})
    r2 = b.run("a", {"loss": 0.5, "rank": 1, "delta": 2}, parents=[r1], params={"date": 6},
               code={"train.py": "y\n"})
    sha = b.write(tmp_path)
    for query, name in ((["best", "-m", "rank"], "rank"), (["best", "-m", "date"], "date"),
                        (["blame", "-m", "delta", "--all"], "delta")):
        proc = run_cli(*query, "--format", "csv", cwd=tmp_path)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (f"Error: the metric {name} has the name of another column of "
                               f"the output\nhint: show it under another name: metrics.aliases "
                               f"in .gitlog.yaml ({{my_{name}: [{name}]}}), then -m my_{name}\n")
    rows = cli_json(tmp_path, "best", "-m", "loss", "--where", "date > 1 and run != 'x'")
    assert rows == [
        {"rank": 1, "commit": sha[r2][:10], "date": iso(r2), "experiment": "a", "loss": 0.5,
         "`date`": 6, "run": "run-a-3", "status": "completed", "subject": "a: run run-a-3"},
        {"rank": 2, "commit": sha[r1][:10], "date": iso(r1), "experiment": "a", "loss": 1.0,
         "`date`": 5, "run": "run-a-2", "status": "completed", "subject": "a: run run-a-2"}]
    table = run_cli("best", "-m", "loss", "--where", "rank > 0", cwd=tmp_path).stdout
    assert table.splitlines()[0].split() == ["rank", "commit", "date", "experiment", "loss",
                                             "`rank`", "status", "subject"]
    (tmp_path / ".gitlog.yaml").write_text("metrics:\n  aliases: {my_rank: [rank]}\n")
    assert [r["my_rank"] for r in cli_json(tmp_path, "best", "-m", "my_rank")] == [3, 1]


def test_best_without_a_metric_ranks_by_the_first_key_metric_as_history_does(
        twoexp: tuple[Path, dict], tmp_path: Path) -> None:
    # 'gitlog best --where ...' was a usage error (Missing option '-m'), though history
    # defaults to metrics.key: it now ranks by the first of them the runs have, and says so
    repo, c = twoexp
    proc = run_cli("best", "--where", "params.lr < 0.05", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ("gitlog: ranked by loss, the first of metrics.key the runs have: "
                           "-m NAME ranks by another\n")
    assert [(r["commit"], r["loss"], r["params.lr"]) for r in json.loads(proc.stdout)] == [
        (c["b1"][:10], 0.9, 0.01), (c["b2"][:10], 1.2, 0.02)]
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    b.run("a", {"f1": 0.5}, parents=[c0])
    b.write(tmp_path / "f1")
    proc = run_cli("best", cwd=tmp_path / "f1")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Error: no run has the metrics loss, accuracy\n"
                           "hint: metrics in these runs: f1\n")


def test_best_refuses_max_and_min_together(twoexp: tuple[Path, dict]) -> None:
    repo, _ = twoexp
    proc = run_cli("best", "-m", "loss", "--max", "--min", cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Error: --max and --min cannot be used together\nhint: give one: "
                           "--max (higher is better) or --min (lower is better)\n")


@pytest.mark.parametrize("text, run, expected", [
    ("a < 2", {"metrics": {"a": 1}}, True),
    ("a < 2", {"metrics": {}}, False),
    ("a != 2", {"metrics": {}}, False),
    ("params.opt.name == 'sgd'", {"params": {"opt/name": "sgd"}}, True),
    ("params.opt/name = \"adam\"", {"params": {"opt/name": "sgd"}}, False),
    ("metrics.eval/f1 >= 0.5 or status == 'failed'", {"metrics": {"eval/f1": 0.4},
                                                      "status": "failed"}, True),
    ("not (x > 1 and y > 1)", {"metrics": {"x": 2, "y": 2}}, False),
    ("x > 1 and y > 1 or z == 1", {"metrics": {"x": 0, "z": 1}}, True),
    ("flag == true", {"params": {"flag": True}}, True),
    ("flag == 1", {"params": {"flag": True}}, False),
    ("name > 3", {"params": {"name": "abc"}}, False),
    ("lr <= 1e-3", {"params": {"lr": 0.001}}, True),
])
def test_filter_language(text: str, run: dict, expected: bool) -> None:
    assert parse(text).match(run) is expected


@pytest.mark.parametrize("text, column, problem", [
    ("", 1, "the expression is empty"),
    ("a <", 4, "expected a field or a value, got the end"),
    ("a b", 3, "expected a comparison"),
    ("(a < 1", 7, "expected ')'"),
    ("a < 1 b < 2", 7, "unexpected 'b'"),
    ("params. < 1", 1, "params needs a name: params.NAME"),
    ("a ; b", 3, "unexpected ';'"),
    # a run's field is text: compared with a number or boolean it never matched
    ("(run == 5)", 9, "run is text, never the number or boolean 5"),
    ("1234567 != commit", 1, "commit is text, never the number or boolean 1234567"),
    ("a < 1 or status == True", 20, "status is text, never the number or boolean True"),
])
def test_filter_errors(text: str, column: int, problem: str) -> None:
    with pytest.raises(FilterError) as info:
        parse(text)
    assert f"column {column}:" in str(info.value) and problem in str(info.value)


@pytest.mark.parametrize("text, run, expected", [
    ("metrics.`f1@0.5` > 0.8", {"metrics": {"f1@0.5": 0.9}}, True),
    ("metrics.`f1@0.5` > 0.8", {"metrics": {"f1@0.5": 0.7}}, False),
    ("`recall%` >= 0.5 and `precision=top` < 1",
     {"metrics": {"recall%": 0.5, "precision=top": 0.9}}, True),
    ("metrics.`train/loss` < 1", {"metrics": {"train/loss": 0.3}}, True),
    # one key, as `gitlog show` prints it: never split on '.'
    ("metrics.`train.loss` < 1", {"metrics": {"train/loss": 0.3}}, False),
    ("metrics.`acc.top1` == 2", {"metrics": {"acc/top1": 1, "acc.top1": 2}}, True),
    ("params.`drop out` == 0.5 and params.`eval/k+1` == 3",
     {"params": {"drop out": 0.5, "eval/k+1": 3}}, True),
    ("params.`a\\`b\\\\c` == 1", {"params": {"a`b\\c": 1}}, True),
    ("`f1@0.5` > 0.8", {"metrics": {}, "params": {"f1@0.5": 0.9}}, True),
    # alone, a quoted name is a metric or param, never one of the run's fields
    ("`status` == 'x'", {"status": "failed", "params": {"status": "x"}}, True),
    ("`status` == 'failed'", {"status": "failed", "params": {"status": "x"}}, False),
])
def test_filter_quoted_names(text: str, run: dict, expected: bool) -> None:
    assert parse(text).match(run) is expected


def test_filter_quoted_names_keep_their_quotes_in_labels() -> None:
    found = parse("metrics.`f1@0.5` > 0 and `a\\`b` > 0 or params.`x y` > 0 and f1 > 0")
    assert [(f.kind, f.name, f.label) for f in found.fields] == [
        ("metrics", "f1@0.5", "metrics.`f1@0.5`"), ("bare", "a`b", "`a\\`b`"),
        ("params", "x y", "params.`x y`"), ("bare", "f1", "f1")]


@pytest.mark.parametrize("text, column, problem", [
    ("metrics.`f1@0.5 > 0.8", 9, "the quoted name opened here has no closing `"),
    ("metrics.`f1\\` > 0.8", 9, "the quoted name opened here has no closing `"),
    ("x == 'abc", 6, "the string opened here has no closing '"),
    ("`` > 1", 1, "a quoted name cannot be empty"),
    ("metrics.f1`x` > 1", 11, "a quoted name stands alone or right after params. or "
                              "metrics."),
    ('metrics."f1@0.5" > 1', 1, "metrics needs a name: metrics.NAME or metrics.`NAME`"),
])
def test_filter_quoting_errors(text: str, column: int, problem: str) -> None:
    with pytest.raises(FilterError) as info:
        parse(text)
    assert str(info.value) == f"bad --where at column {column}: {problem}"


@pytest.mark.parametrize("text, message, hint", [
    ("metrics.`f1@0.6` > 0", "the metric 'metrics.`f1@0.6`'", "did you mean metrics.`f1@0.5`?"),
    ("metrics.f1_0.5 > 0", "the metric 'metrics.f1_0.5'", "did you mean metrics.`f1@0.5`?"),
    ("params.`f1@0.5` > 0", "the param 'params.`f1@0.5`'", "did you mean metrics.`f1@0.5`?"),
    ("metrics.`lr` > 0", "the metric 'metrics.`lr`'", "did you mean params.lr?"),
    ("`recall` > 0", "the metric or param '`recall`'", "did you mean `recall%`?"),
    ("params.nosuch > 0", "the param 'params.nosuch'", "known: params.`drop out`, params.lr"),
    # text without its quotes, next to a run's field
    ("experiment == baseline", "the metric or param 'baseline'",
     "to compare experiment with the text baseline, quote it: 'baseline'"),
    ("lrr != subject", "the metric or param 'lrr'",
     "to compare subject with the text lrr, quote it: 'lrr'; or did you mean lr?"),
])
def test_filter_unknown_fields_are_suggested_as_they_must_be_written(
        text: str, message: str, hint: str) -> None:
    runs = [{"metrics": {"f1@0.5": 0.9, "recall%": 0.5}, "params": {"lr": 0.1, "drop out": 0}}]
    with pytest.raises(UnknownFieldError) as info:
        parse(text).check(runs)
    assert (str(info.value), info.value.hint) == (f"--where names {message}, which no run has",
                                                  hint)


def f1_runs(path: Path) -> dict[str, str]:
    """Runs that log metrics named f1@0.5 and eval/recall% and a param named 'drop out'."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"}, message="initial code")
    r1 = b.run("a", {"loss": 0.5, "f1@0.5": 0.7, "eval": {"recall%": 90}}, parents=[c1],
               params={"drop out": 0.1}, run_id="r1", subject="a: first")
    r2 = b.run("a", {"loss": 0.4, "f1@0.5": 0.85, "eval": {"recall%": 80}}, parents=[r1],
               params={"drop out": 0.3}, run_id="r2", subject="a: second")
    r3 = b.run("b", {"loss": 0.3, "f1@0.5": 0.9, "eval": {"recall%": 75}}, parents=[c1],
               params={"drop out": 0.5}, run_id="r3", subject="b: first")
    shas = b.write(path)
    return {"r1": shas[r1], "r2": shas[r2], "r3": shas[r3]}


def test_best_where_names_metrics_and_params_in_backticks(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    c = f1_runs(repo)
    rows = cli_json(repo, "best", "-m", "loss", "--where",
                    "metrics.`f1@0.5` > 0.8 and metrics.`eval/recall%` >= 80")
    assert rows == [{"rank": 1, "commit": c["r2"][:10], "date": iso(3), "experiment": "a",
                     "loss": 0.4, "metrics.`f1@0.5`": 0.85, "metrics.`eval/recall%`": 80,
                     "status": "completed", "subject": "a: second"}]
    rows = cli_json(repo, "best", "-m", "f1@0.5", "--max", "--where",
                    "params.`drop out` < 0.2 or `eval/recall%` < 80")
    assert [(r["commit"], r["f1@0.5"], r["params.`drop out`"], r["`eval/recall%`"])
            for r in rows] == [(c["r3"][:10], 0.9, 0.5, 75), (c["r1"][:10], 0.7, 0.1, 90)]


def test_best_where_quoting_errors_on_the_command_line(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    f1_runs(repo)
    proc = run_cli("best", "-m", "loss", "--where", "metrics.`f1@0.6` > 0.8", cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Error: --where names the metric 'metrics.`f1@0.6`', which no run "
                           "with the metric loss has\nhint: did you mean metrics.`f1@0.5`?\n")
    proc = run_cli("best", "-m", "loss", "--where", "loss < 1 and metrics.`f1@0.5 > 0.8",
                   cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Error: bad --where at column 22: the quoted name opened here has "
                           "no closing `\nhint: put a name with other characters in "
                           "backticks, with \\` for a backtick inside: --where "
                           "'metrics.`f1@0.5` > 0.8'\n")


def test_blame_names_the_code_change_and_its_author(repo: Path) -> None:
    def train(loss: float) -> None:
        with gitlog.start("exp", repo=repo) as run:
            run.log_metric("loss", loss)

    train(0.5)
    (repo / "train.py").write_text("print('slower')\n")
    git(repo, "commit", "-qam", "Use a smaller batch", "--author", "Bob <bob@example.com>")
    bob = git(repo, "rev-parse", "HEAD").strip()
    train(0.9)
    train(0.8)  # same code: not a code change
    (repo / "model.py").write_text("layers = 3\n")
    git(repo, "add", "model.py")
    git(repo, "commit", "-qm", "Add a layer", "--author", "Cy <cy@example.com>")
    train(0.7)
    rows = gitlog.blame("loss", ["exp"], repo=repo)
    assert [(r.code_commit, r.author, r.subject, r.delta, r.verdict, r.files) for r in rows] == [
        (bob, "Bob <bob@example.com>", "Use a smaller batch", 0.4, "worse", ["train.py"]),
        (git(repo, "rev-parse", "HEAD").strip(), "Cy <cy@example.com>", "Add a layer", -0.1,
         "better", ["model.py"])]
    assert (rows[0].insertions, rows[0].deletions) == (1, 1)
    out = cli_json(repo, "blame", "-m", "loss", "exp", "-n", "1", "-p")
    assert len(out) == 1 and out[0]["commit"] == bob[:10] and out[0]["delta"] == 0.4
    assert "+print('slower')" in out[0]["diff"]


def test_blame_credits_the_commit_a_merge_brought_in_not_the_merge(repo: Path) -> None:
    """A run on a merge of a feature branch credited the merge: its subject and author
    (who merged) instead of the feature's commit and author (who changed the code)."""
    def train(loss: float) -> None:
        with gitlog.start("exp", repo=repo) as run:
            run.log_metric("loss", loss)

    train(1.0)
    git(repo, "checkout", "-qb", "feature")
    (repo / "train.py").write_text("print('scaled')\n")
    git(repo, "commit", "-qam", "Scale features", "--author", "Bob <bob@example.com>")
    bob = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("usage\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "Document usage")  # main moved on: a real merge
    git(repo, "merge", "-q", "--no-ff", "feature", "-m", "Merge branch 'feature'")
    train(0.5)
    rows = gitlog.blame("loss", ["exp"], repo=repo)
    assert [(r.code_commit, r.author, r.subject, r.delta, r.files) for r in rows] == [
        (bob, "Bob <bob@example.com>", "Scale features", -0.5, ["README.md", "train.py"])]
    out = cli_json(repo, "blame", "-m", "loss", "exp")
    assert [(r["commit"], r["author"], r["subject"]) for r in out] == [
        (bob[:10], "Bob <bob@example.com>", "Scale features")]


def test_a_run_without_the_metric_between_two_that_have_it(tmp_path: Path) -> None:
    """The change is measured from the last run that has the metric, and so are the code
    changes history shows and blame credits: a run in between that lacks the metric
    (another metric logged, a crash) does not hide what changed before it."""
    b = Builder()
    c1 = b.commit("main", {"a.py": "1\n", "b.py": "1\n"})
    r1 = b.run("m", {"acc": 0.5}, parents=[c1], run_id="r1")
    r2 = b.run("m", {"other": 1}, parents=[r1], run_id="r2", code={"a.py": "2\n"})
    r3 = b.run("m", {"acc": 0.7}, parents=[r2], run_id="r3", code={"b.py": "2\n"})
    repo = tmp_path / "p"
    sha = b.write(repo)
    rows = gitlog.history("acc", "exp/m", repo=repo)
    assert [(r.run, r.previous, r.metrics["acc"].delta, r.code_changes) for r in rows] == [
        ("r1", None, None, None), ("r2", sha[r1], None, ["a.py"]),
        ("r3", sha[r1], 0.2, ["a.py", "b.py"])]
    blamed = gitlog.blame("acc", ["exp/m"], repo=repo)
    assert [(r.commit, r.previous, r.delta, r.files) for r in blamed] == [
        (sha[r3], sha[r1], 0.2, ["a.py", "b.py"])]


def test_the_api_takes_one_revision_as_a_string(twoexp: tuple[Path, dict]) -> None:
    """best, blame and compare read revs='exp/a' as one revision, as history does, not as
    its characters."""
    repo, c = twoexp
    assert {r.experiment for r in gitlog.best("loss", revs="exp/b", repo=repo)} == {"b"}
    assert [r.commit for r in gitlog.blame("loss", "exp/a", repo=repo)] == \
        [r.commit for r in gitlog.blame("loss", ["exp/a"], repo=repo)] != []
    with pytest.raises(gitlog.GitlogError, match="compare needs at least two runs"):
        gitlog.compare("ab", repo=repo)


def test_logs_filters_by_level_and_text(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    events = "".join(json.dumps(e) + "\n" for e in [
        {"ts": "t1", "level": "info", "message": "epoch 1", "fields": {}, "step": 1},
        {"ts": "t2", "level": "warning", "message": "loss is NaN", "fields": {"lr": 1},
         "step": 2},
        {"ts": "t3", "level": "error", "message": "diverged", "fields": {"why": "nan grad"},
         "step": 3},
    ]) + "not json\n"
    r1 = b.run("l", {"loss": 1}, parents=[c1], code={".gitlog/events.jsonl": events})
    repo = tmp_path / "p"
    shas = b.write(repo)
    rows = cli_json(repo, "logs", "l", "--level", "warning", "--grep", "nan")
    assert rows == [
        {"time": "t2", "level": "warning", "step": 2, "message": "loss is NaN",
         "fields": {"lr": 1}},
        {"time": "t3", "level": "error", "step": 3, "message": "diverged",
         "fields": {"why": "nan grad"}}]
    proc = run_cli("logs", shas[r1][:8], cwd=repo)
    assert proc.returncode == 0 and "epoch 1" in proc.stdout
    none = run_cli("logs", "l", "--grep", "no such text", cwd=repo)
    assert (none.returncode, none.stdout) == (0, "")
    assert none.stderr.endswith(f"gitlog: no events in run {shas[r1][:10]} match\n")
    assert "why=nan grad" in proc.stdout  # the fields column, as --grep reads it
    for shown in ("lr=1", "WHY=NaN", "why=nan grad"):  # what the table shows matches
        rows = cli_json(repo, "logs", "l", "--grep", shown)
        assert [r["message"] for r in rows] == \
            (["loss is NaN"] if "lr" in shown else ["diverged"]), shown
    assert [r["message"] for r in cli_json(repo, "logs", "l", "--grep", '"lr": 1')] == \
        ["loss is NaN"]  # and, as before, their JSON
    assert "1 line(s) of events.jsonl" in proc.stderr
    api = gitlog.logs("l", level="error", repo=repo)
    assert [e.message for e in api.events] == ["diverged"]
    # a level in capitals, as Python's logging names them, as the API takes it
    assert [r["message"] for r in cli_json(repo, "logs", "l", "--level", "ERROR")] == \
        ["diverged"]
    # and as logging spells them, as GITLOG_LEVEL and start(level=) take them
    for spelled, kept in (("warn", ["loss is NaN", "diverged"]), ("Fatal", []),
                          ("WARNING", ["loss is NaN", "diverged"])):
        assert [r["message"] for r in cli_json(repo, "logs", "l", "--level", spelled)] == \
            kept, spelled
    bad = run_cli("logs", "l", "--level", "loud", cwd=repo)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr.splitlines()[0] == "Error: unknown level 'loud'"


def test_logs_writes_json_and_csv_row_by_row(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of many events: JSON and CSV are written as the events are read, holding
    events.jsonl and no list of its events (JSON held them three times over: rows, a
    copy of them made safe for JSON, then the whole text; then as a list of events, 650
    MB for 500,000 events), and read the same as before."""
    import os
    import sys
    import tracemalloc

    from gitlog.cli.logs import logs as command

    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    events = "".join(json.dumps({"ts": f"2024-01-01T00:00:{i % 60:02d}Z", "level": "info",
                                 "message": f"step {i}", "fields": {"i": i, "lr": 0.1},
                                 "step": i}) + "\n" for i in range(10_000))
    b.run("big", {"loss": 1}, parents=[c1], code={".gitlog/events.jsonl": events})
    repo = tmp_path / "p"
    b.write(repo)
    monkeypatch.chdir(repo)
    tracemalloc.start()
    try:
        assert len(gitlog.logs("big").events) == 10_000
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    for fmt in ("json", "csv", "table", "markdown"):
        with open(os.devnull, "w") as sink:
            monkeypatch.setattr(sys, "stdout", sink)
            tracemalloc.start()
            try:
                command.main(["big", "--format", fmt], standalone_mode=False)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        # events.jsonl and a piece of output, not the events as a list (as much as `held`);
        # a table its cells' text too (it held events, rows and padded columns: 2.5x)
        assert peak < (0.4 if fmt in ("json", "csv") else 0.8) * held, \
            f"{fmt}: {peak / 1e6:.1f} MB for {held / 1e6:.1f} MB"
    monkeypatch.undo()
    rows = cli_json(repo, "logs", "big")
    assert len(rows) == 10_000 and rows[7] == {
        "time": "2024-01-01T00:00:07Z", "level": "info", "step": 7, "message": "step 7",
        "fields": {"i": 7, "lr": 0.1}}
    proc = run_cli("logs", "big", "--format", "csv", cwd=repo)
    assert proc.stdout.splitlines()[:2] == [
        "time,level,step,message,fields",
        '2024-01-01T00:00:00Z,info,0,step 0,"{""i"": 0, ""lr"": 0.1}"']


def test_logs_keeps_a_message_holding_a_unicode_line_separator(tmp_path: Path) -> None:
    """events.jsonl is split at its newlines only: a message holding U+2028 (JSON writes
    it as it is) is one event, not two lines 'not valid JSON' and a lost event."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    events = "".join(json.dumps({"ts": "2024-01-01T00:00:00Z", "level": "info",
                                 "message": m, "fields": {}, "step": 0},
                                ensure_ascii=False) + "\n" for m in ("a\u2028b", "c\x85d"))
    b.run("u", {"loss": 1}, parents=[c1], code={".gitlog/events.jsonl": events})
    repo = tmp_path / "p"
    b.write(repo)
    proc = run_cli("logs", "u", "--format", "json", cwd=repo)
    assert [r["message"] for r in json.loads(proc.stdout)] == ["a\u2028b", "c\x85d"]
    assert proc.stderr == ""
    assert [e.message for e in gitlog.logs("u", repo=repo).events] == ["a\u2028b", "c\x85d"]


def test_api_queries_close_every_pipe_of_the_git_processes(twoexp: tuple[Path, dict]) -> None:
    """The Python API leaves no pipe of its git processes open (no ResourceWarning): cold
    and warm walks, with code changes (git diff-tree), best's params, blame, compare."""
    repo, _ = twoexp
    code = """if True:
        import gc, gitlog
        for _ in range(2):  # cold, then from the index
            rows = gitlog.history("loss", all=True, repo=".")
        assert rows[-1].code_changes == ["train.py"], rows[-1]
        gitlog.best("loss", where="params.lr > 0", repo=".")
        gitlog.blame("loss", all=True, repo=".")
        gitlog.compare(["a", "b"], repo=".")
        gitlog.show("a", ".")
        gc.collect()
        print("done")
    """
    proc = run_python(code, repo, env={"PYTHONWARNINGS": "always::ResourceWarning"})
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    assert "ResourceWarning" not in proc.stderr, proc.stderr


def test_api_functions_stay_callable_after_every_module_is_imported() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(gitlog.__path__):
        if info.name != "__main__":
            importlib.import_module(f"gitlog.{info.name}")
    for name in ("history", "compare", "best", "blame", "logs", "bisect", "show"):
        assert callable(getattr(gitlog, name)), name


def test_best_where_reads_params_as_they_were_logged(repo: Path) -> None:
    """A string param 'yes' stays a string (YAML 1.2), not the boolean a 1.1 loader makes."""
    for answer, loss in (("yes", 0.2), ("no", 0.1)):
        with gitlog.start(f"ans-{answer}", params={"answer": answer, "flag": True},
                          repo=repo) as run:
            run.log_metric("loss", loss)
    rows = gitlog.best("loss", where="params.answer == 'yes' and params.flag == true",
                       repo=repo)
    assert [r.experiment for r in rows] == ["ans-yes"]


def test_best_where_finds_quoted_names_as_a_run_logs_them(repo: Path) -> None:
    for name, f1, recall in (("low", 0.6, 0.9), ("high", 0.9, 0.8), ("miss", 0.95, 0.4)):
        with gitlog.start(name, params={"drop out": 0.1}, repo=repo) as run:
            run.log_metric("loss", 1 - f1)
            run.log_metric("f1@0.5", f1)
            run.log_metric("eval/recall%", recall)
    rows = gitlog.best("f1@0.5", maximize=True, repo=repo,
                       where="metrics.`eval/recall%` > 0.5 and params.`drop out` == 0.1")
    assert [(r.experiment, r.value, r.fields) for r in rows] == [
        ("high", 0.9, {"metrics.`eval/recall%`": 0.8, "params.`drop out`": 0.1}),
        ("low", 0.6, {"metrics.`eval/recall%`": 0.9, "params.`drop out`": 0.1})]


def test_show_and_logs_skip_a_newer_experiment_that_holds_no_run(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    a1 = b.run("a", {"loss": 0.9}, parents=[c1], run_id="a1")
    c2 = b.commit("main", {"train.py": "y\n"}, parents=[c1], message="newer code")
    repo = tmp_path / "p"
    shas = b.write(repo)
    done = run_cli("exp", "new", "fresh", "--from", shas[c2], cwd=repo)  # no run yet
    assert done.returncode == 0, done.stderr
    assert cli_json(repo, "show")["run"]["commit"] == shas[a1]
    proc = run_cli("logs", cwd=repo)
    assert proc.returncode == 0, proc.stderr


def test_an_experiment_name_takes_git_suffixes(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    assert cli_json(repo, "show", "a~1")["run"]["commit"] == c["a3"]
    assert cli_json(repo, "show", "a^^")["run"]["commit"] == c["a2"]
    rows = cli_json(repo, "history", "-m", "loss", "a~2")
    assert [r["commit"] for r in rows] == [c["a1"][:10], c["a2"][:10]]
    runs = cli_json(repo, "compare", "a~3", "a")["runs"]
    assert [r["commit"] for r in runs] == [c["a1"], c["a4"]]
    for command in (["show", "a~9"], ["history", "-m", "loss", "a~9"]):
        proc = run_cli(*command, cwd=repo)
        assert proc.returncode == 1 and proc.stdout == "" and "a~9" in proc.stderr


def test_best_passes_over_diverged_runs(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("e", {"loss": 0.5, "acc": 0.7}, parents=[c1])
    r2 = b.run("e", {"loss": float("nan"), "acc": 0.9}, parents=[r1])
    b.run("e", {"loss": float("-inf"), "acc": 0.8}, parents=[r2])
    repo = tmp_path / "p"
    shas = b.write(repo)
    assert [r["commit"] for r in cli_json(repo, "best", "-m", "loss")] == [shas[r1][:10]]
    kept = cli_json(repo, "best", "-m", "acc", "--where", "metrics.loss > -1")
    assert [r["commit"] for r in kept] == [shas[r1][:10]]  # nan and -inf read as missing


def test_ls_counts_the_runs_of_both_sides_of_a_merge_as_history_shows_them(
        tmp_path: Path) -> None:
    """Two clones logged runs to exp/a; the merge took one side's log files (what
    'gitlog pull' tells to do with a diverged branch): ls counts the three runs history
    shows, not the two of the side git's default simplification follows."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0], run_id="run-one")
    r2 = b.run("a", {"loss": 0.5}, parents=[r1], run_id="run-mine")
    r3 = b.run("a", {"loss": 0.7}, parents=[r1], run_id="run-theirs", branch="side")
    b.run("a", {"loss": 0.7}, parents=[r2, r3], run_id="run-theirs", subject="merge")
    repo = tmp_path / "p"
    b.write(repo)
    shown = json.loads(run_cli("history", "--metric", "loss", "exp/a", "--format", "json",
                               cwd=repo).stdout)
    assert sorted(row["loss"] for row in shown) == [0.5, 0.7, 1.0]
    rows = json.loads(run_cli("ls", "--format", "json", cwd=repo).stdout)
    assert [(r["experiment"], r["runs"], r["loss"]) for r in rows] == [("a", 3, 0.7)]


def test_tables_shorten_long_subjects_other_formats_keep_them(tmp_path: Path) -> None:
    """A long commit subject made history's, best's and blame's tables wrap on a terminal:
    the table cuts it to 50 columns ending in '…'; JSON, CSV and Markdown keep it whole."""
    long = "Replace the optimiser with AdamW and warm the learning rate up over 500 steps"
    wide = "学习率" * 20  # two columns a character
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0], subject=wide)
    b.run("a", {"loss": 0.5}, parents=[r1], code={"train.py": "y\n"}, subject=long)
    b.write(tmp_path)
    cut = "Replace the optimiser with AdamW and warm the lea…"  # 50 columns
    for query in (["history", "-m", "loss", "exp/a"], ["best", "-m", "loss"],
                  ["blame", "-m", "loss", "--all"]):
        table = run_cli(*query, cwd=tmp_path)
        assert table.returncode == 0, table.stderr
        assert cut in table.stdout and long not in table.stdout, query
        if query[0] != "blame":
            assert "学习率" * 8 + "…" in table.stdout  # 49 columns: a 25th would be 51
            assert "学习率" * 8 + "学" not in table.stdout
        assert long in run_cli(*query, "--format", "markdown", cwd=tmp_path).stdout
        assert long in [r["subject"] for r in cli_json(tmp_path, *query)]
        proc = run_cli(*query, "--format", "csv", cwd=tmp_path)
        assert long in [r["subject"] for r in csv.DictReader(io.StringIO(proc.stdout))]


def test_queries_say_where_runs_logged_under_an_earlier_log_dir_are(tmp_path: Path) -> None:
    """Changing log_dir hid every earlier run: history, best, blame, show, logs and
    compare said there were no runs, with the hint to log one."""
    b = Builder(log_dir="logs/old")
    c0 = b.commit("main", {"train.py": "x\n", ".gitlog.yaml": "log_dir: 'logs/old'  # mine\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    b.run("a", {"loss": 0.5}, parents=[r1], code={"train.py": "y\n"})
    repo = tmp_path / "p"
    b.write(repo)
    git(repo, "checkout", "-q", "exp/a")
    (repo / ".gitlog.yaml").write_text("log_dir: logs/new\n")
    hint = ("hint: runs were logged under logs/old, not under log_dir logs/new: to query "
            "them, set log_dir: logs/old in .gitlog.yaml\n")
    for query, error in ((["history", "-m", "loss"], "no runs found in any experiment"),
                         (["best", "-m", "loss"], "no runs found in any experiment"),
                         (["blame", "-m", "loss", "--all"], "no runs found in any experiment"),
                         (["show"], "no runs yet: HEAD"), (["logs"], "no runs yet: HEAD"),
                         (["compare", "a~1", "a"], "this commit holds no run: a~1")):
        proc = run_cli(*query, cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"Error: {error}\n{hint}")
    (repo / ".gitlog.yaml").write_text("log_dir: logs/old\n")  # as the hint says
    assert [r["loss"] for r in cli_json(repo, "history", "-m", "loss")] == [1.0, 0.5]
    git(repo, "checkout", "-q", "main")
    (repo / ".gitlog.yaml").unlink()  # the default, .gitlog, and no run ever there
    proc = run_cli("show", cwd=repo)
    assert proc.stderr == ("Error: no runs yet: HEAD\nhint: runs were logged under logs/old, "
                           "not under log_dir .gitlog: to query them, set log_dir: logs/old "
                           "in .gitlog.yaml\n")
    fresh = tmp_path / "fresh"  # no run anywhere: the hint to log one
    git(tmp_path, "init", "-q", str(fresh))
    proc = run_cli("history", "-m", "loss", cwd=fresh)
    assert proc.stderr.endswith("hint: log one: gitlog run -e NAME -- python train.py\n")


def test_the_earlier_log_dir_hint_reads_gits_plain_patch_whatever_the_users_config(
        tmp_path: Path) -> None:
    """With color.ui=always (or color.diff) set globally, the patch of .gitlog.yaml that
    names the earlier log_dir came coloured, and the hint to see those runs was lost."""
    import os

    b = Builder(log_dir="logs/old")
    c0 = b.commit("main", {"train.py": "x\n", ".gitlog.yaml": "log_dir: logs/old\n"})
    b.run("a", {"loss": 1.0}, parents=[c0])
    repo = tmp_path / "p"
    b.write(repo)
    git(repo, "checkout", "-q", "exp/a")
    (repo / ".gitlog.yaml").write_text("log_dir: logs/new\n")
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        "[color]\n\tui = always\n\tdiff = always\n[diff]\n\texternal = /bin/false\n")
    hint = ("hint: runs were logged under logs/old, not under log_dir logs/new: to query "
            "them, set log_dir: logs/old in .gitlog.yaml\n")
    for query, error in ((["show"], "no runs yet: HEAD"),
                         (["history", "-m", "loss"], "no runs found in any experiment")):
        proc = run_cli(*query, cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"Error: {error}\n{hint}")


def test_booleans_read_true_and_false_as_where_writes_them(tmp_path: Path) -> None:
    """Tables and CSV wrote a boolean as yes/no: the same as the string 'yes' that
    params.yaml keeps apart from it, and not what --where takes (flag == true). Event
    fields that are mappings showed as Python wrote them ({'x': 1}), not as JSON."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    events = json.dumps({"ts": "t1", "level": "info", "message": "m", "step": 1,
                         "fields": {"ok": False, "d": {"x": 1}}}) + "\n"
    b.run("a", {"loss": 1.0}, parents=[c0], params={"flag": "true", "answer": "'yes'"},
          code={".gitlog/events.jsonl": events})
    repo = tmp_path / "p"
    b.write(repo)
    where = ["best", "-m", "loss", "--where", "flag == true and answer == 'yes'"]
    first = cli_json(repo, *where)[0]
    assert (first["flag"], first["answer"]) == (True, "yes")
    proc = run_cli(*where, "--format", "csv", cwd=repo)
    row = next(csv.DictReader(io.StringIO(proc.stdout)))
    assert (row["flag"], row["answer"]) == ("true", "yes")
    for fmt in ("table", "markdown"):
        proc = run_cli(*where, "--format", fmt, cwd=repo)
        header, cells = proc.stdout.splitlines()[0], proc.stdout.splitlines()[2]
        shown = dict(zip(header.strip("| ").split(), cells.strip("| ").split(), strict=False))
        assert (shown["flag"], shown["answer"]) == ("true", "yes"), fmt
    table = run_cli("logs", "a", cwd=repo).stdout
    assert table.splitlines()[2].endswith('ok=false, d={"x": 1}')
    assert [r["message"] for r in cli_json(repo, "logs", "a", "--grep", "ok=false")] == ["m"]


def test_the_first_query_after_log_dir_changed_says_earlier_runs_are_not_shown(
        tmp_path: Path) -> None:
    """With runs under both folders, history, best and blame showed the new folder's
    alone, without a word: the first query after the change now says so, once."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    b.log_dir = "logs/new"
    r2 = b.run("a", {"loss": 0.5}, parents=[r1], code={"train.py": "y\n"})
    b.run("a", {"loss": 0.4}, parents=[r2], code={"train.py": "z\n"})
    repo = tmp_path / "p"
    b.write(repo)
    note = ("gitlog: log_dir is now logs/new (was .gitlog): the runs logged under .gitlog "
            "are not shown; to see them, set log_dir: .gitlog in .gitlog.yaml\n")
    for query, rows in ((["history", "-m", "loss", "a"], 2), (["best", "-m", "loss"], 2),
                        (["blame", "-m", "loss", "--all"], 1)):
        (repo / ".gitlog.yaml").unlink(missing_ok=True)
        assert run_cli(*query, cwd=repo).returncode == 0  # the index is built for .gitlog
        (repo / ".gitlog.yaml").write_text("log_dir: logs/new\n")
        first = run_cli(*query, "--format", "csv", cwd=repo)
        assert (first.returncode, first.stderr) == (0, note), query
        assert len(list(csv.DictReader(io.StringIO(first.stdout)))) == rows
        again = run_cli(*query, "--format", "csv", cwd=repo)
        assert (again.stdout, again.stderr) == (first.stdout, ""), query


def test_compare_markdown_renders_as_headings_and_a_list(twoexp: tuple[Path, dict]) -> None:
    """Markdown wrote the table's '== params ==' lines and the run lines as they were,
    which render as one run-on paragraph."""
    repo, c = twoexp
    proc = run_cli("compare", c["a1"], "a", "--format", "markdown", cwd=repo)
    a1, a4 = f"{c['a1'][:10]} (a)", f"{c['a4'][:10]} (a)"
    lines = proc.stdout.splitlines()
    assert lines[:5] == [f"- base {a1}  a: first", f"- vs   {a4}  a: tuned", "",
                         "### params", ""]
    assert lines[5].startswith("| key ") and "### metrics" in lines and "### code" in lines
    assert "==" not in proc.stdout
    table = run_cli("compare", c["a1"], "a", cwd=repo).stdout.splitlines()
    assert table[:4] == [f"base {a1}  a: first", f"vs   {a4}  a: tuned", "", "== params =="]


def test_blame_names_the_change_that_made_the_metric_diverge_first(tmp_path: Path) -> None:
    """A change that made the loss nan was left out of blame (it has no delta), though it
    is the regression a user asks blame about; a walk whose every run diverged said "no
    run has the metric loss", its hint "metrics in these runs: loss"."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    r2 = b.run("a", '{"loss": NaN}', parents=[r1], code={"train.py": "lr = 10\n"})
    r3 = b.run("a", {"loss": 0.0}, parents=[r2], code={"train.py": "lr = 1\n"})
    r4 = b.run("a", {"loss": 0.5}, parents=[r3], code={"train.py": "lr = 2\n"})
    b.run("d", "{\"loss\": Infinity}", parents=[c0])
    b.run("d", "{\"loss\": NaN}", parents=[c0], code={"train.py": "y\n"})
    repo = tmp_path / "p"
    sha = b.write(repo)
    rows = cli_json(repo, "blame", "-m", "loss", "exp/a")
    assert [(r["run"], r["previous_run"], r["loss"], r["delta"], r["pct"], r["verdict"])
            for r in rows] == [
        (sha[r2][:10], sha[r1][:10], "nan", None, None, "worse"),
        (sha[r3][:10], sha[r1][:10], 0.0, -1.0, -100.0, "better"),
        (sha[r4][:10], sha[r3][:10], 0.5, 0.5, None, "worse")]
    [first] = gitlog.blame("loss", "exp/a", n=1, repo=repo)
    assert (first.commit, first.delta, first.pct, first.verdict) == (sha[r2], None, None,
                                                                      "worse")
    table = run_cli("blame", "-m", "loss", "exp/a", "-n", "1", cwd=repo).stdout
    assert table.splitlines()[2].split(" nan ", 1)[1].split()[:2] == ["worse", "train.py"]
    proc = run_cli("blame", "-m", "loss", "exp/d", cwd=repo)
    assert (proc.returncode, proc.stderr) == (1, (
        "Error: no run has a finite loss: every run that logged it diverged (nan or infinite), "
        "and blame measures a change from a finite value\nhint: see them with: gitlog history "
        "-m loss --all\n"))


def test_blame_patch_in_markdown_is_a_fenced_diff(tmp_path: Path) -> None:
    """blame -p --format markdown wrote each diff as bare text, which Markdown renders as
    one paragraph with its +/- lines run together (a '# comment' line as a heading)."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    r2 = b.run("a", {"loss": 0.5}, parents=[r1], code={"train.py": "# scale\n```\n"},
               subject="Scale")
    repo = tmp_path / "p"
    sha = b.write(repo)
    proc = run_cli("blame", "-m", "loss", "--all", "-p", "--format", "markdown", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    title = f"#### {sha[r2][:10]} Scale ({sha[r1][:10]} -> {sha[r2][:10]})"
    tail = proc.stdout.split(title + "\n\n", 1)[1]
    assert tail.startswith("````diff\ndiff --git a/train.py b/train.py\n")
    assert tail.endswith("-x\n+# scale\n+```\n````\n")


def test_blame_and_compare_diff_as_git_does_whatever_the_users_diff_settings(
        tmp_path: Path) -> None:
    """diff.noprefix, context=0, renames=copies, orderFile (set globally) reached blame -p's
    patch (no a/ b/, no context, a new file as a copy) and the order of blame's files and
    compare's code rows."""
    import os

    b = Builder()
    model = "".join(f"{c}\n" for c in "abcdefgh")
    c0 = b.commit("main", {"train.py": "x\n", "src/model.py": model})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    changed = model.replace("d\n", "D\n")
    b.run("a", {"loss": 0.5}, parents=[r1], subject="Scale",
          code={"train.py": "x\ny\n", "src/model.py": changed, "src/dup.py": changed})
    repo = tmp_path / "p"
    b.write(repo)
    queries = (["blame", "-m", "loss", "exp/a", "-p", "--format", "json"],
               ["compare", "exp/a~1", "exp/a", "--format", "json"],
               ["history", "-m", "loss", "exp/a", "--format", "json"])
    plain = [run_cli(*q, cwd=repo / "src").stdout for q in queries]
    (repo / ".git" / "gitlog" / "index.sqlite").unlink()  # history walks again, not cached
    (tmp_path / "order").write_text("train.py\nsrc/model.py\n")
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        "[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n\trelative = true\n"
        "\trenames = copies\n\tcontext = 0\n\tinterHunkContext = 9\n"
        "\talgorithm = histogram\n\tsuppressBlankEmpty = true\n"
        f"\torderFile = {tmp_path / 'order'}\n")
    assert [run_cli(*q, cwd=repo / "src").stdout for q in queries] == plain
    [row] = json.loads(plain[0])
    assert row["files"] == ["src/dup.py", "src/model.py", "train.py"]
    assert row["diff"].startswith("diff --git a/src/dup.py b/src/dup.py\nnew file mode 100644\n")
    assert "--- a/src/model.py\n+++ b/src/model.py\n@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n" \
        in row["diff"]
    assert [r["file"] for r in json.loads(plain[1])["code"]] == \
        ["src/dup.py", "src/model.py", "train.py"]
    assert json.loads(plain[2])[1]["code_changes"] == ["src/dup.py", "src/model.py", "train.py"]


def test_best_and_blame_with_two_metrics_joined_say_they_take_one(
        twoexp: tuple[Path, dict]) -> None:
    """-m loss,accuracy (as history takes it) said "no run has the metric
    loss,accuracy", its hint listing loss and accuracy among the metrics the runs have."""
    repo, _ = twoexp
    for query in (["best"], ["blame", "--all"]):
        proc = run_cli(*query, "-m", "loss,accuracy", cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            1, "", f"Error: {query[0]} goes by one metric, got 2: loss, accuracy\n"
            f"hint: name one: -m loss (in Python gitlog.{query[0]}('loss')); history takes "
            "several\n")
    assert [r.commit for r in gitlog.best("loss,", repo=repo)] == \
        [r.commit for r in gitlog.best("loss", repo=repo)]


def test_best_where_reads_a_series_of_metrics_aliases_as_m_does(
        twoexp: tuple[Path, dict]) -> None:
    """With metrics.aliases {acc: [accuracy]}, best -m acc ranked the runs' accuracy but
    --where 'acc > 0.6' said no run with the metric acc has the metric 'acc'."""
    repo, c = twoexp
    (repo / ".gitlog.yaml").write_text("metrics:\n  aliases: {acc: [accuracy]}\n")
    rows = cli_json(repo, "best", "-m", "acc", "--where", "acc > 0.6")
    assert [(r["commit"], r["acc"]) for r in rows] == [(c["a4"][:10], 0.75),
                                                      (c["a3"][:10], 0.7)]
    rows = cli_json(repo, "best", "-m", "loss", "--where", "metrics.acc >= 0.6 and loss < 1")
    assert [(r["commit"], r["metrics.acc"]) for r in rows] == [(c["a4"][:10], 0.75),
                                                              (c["a2"][:10], 0.6)]


def test_where_takes_numbers_as_params_yaml_holds_them(tmp_path: Path) -> None:
    """params.yaml holds 1_000, 1e-3, -.5 and 0x1F as numbers (YAML 1.2, as Python writes
    them); --where refused 1_000 and 0x1F ("unexpected '1'"), so a user could not write the
    value as it is in the file."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    b.run("a", {"loss": 1.0}, parents=[c0],
          params={"batch": "1_000", "eps": "1e-3", "shift": "-.5", "mask": "0x1F"})
    b.write(tmp_path)
    for where in ("params.batch == 1_000", "params.batch == 1000", "params.batch == 1e3",
                  "params.eps == 1e-3", "params.eps == 0.001", "params.eps < 1E-2",
                  "params.shift == -.5", "params.shift == -0.5", "params.shift > -1.",
                  "params.mask == 0x1F", "params.mask == 0x1f", "params.mask == 0o37",
                  "params.mask == 0b1_1111", "params.mask == +31",
                  "params.batch > 999.5 and params.batch < 1_000.5"):
        rows = cli_json(tmp_path, "best", "-m", "loss", "--where", where)
        assert [r["loss"] for r in rows] == [1.0], where
    proc = run_cli("best", "-m", "loss", "--where", "params.batch == 1__000", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Error: bad --where at column 17: 1__000 is not a number\n"
                           "hint: write numbers as params.yaml holds them: 1000, 1_000, -.5, "
                           "1e-3, 0x1F\n")


def test_csv_cells_hold_lists_as_json_does(tmp_path: Path) -> None:
    """history, blame and compare wrote a list in CSV joined by ", ": a file named
    'we, ird.py' read as two files, no code changes ([]) as none known (null), and a param
    list as the text '64, 32'; show wrote the same list as JSON. Every CSV cell holding a
    list now holds it as JSON does, so json.loads gives JSON's content back."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0], params={"layers": "[64, 32]"})
    r2 = b.run("a", {"loss": 0.5}, parents=[r1], params={"layers": "[64, 32, 16]"},
               code={"we, ird.py": "y\n", 'q"x.py': "z\n"})
    r3 = b.run("a", {"loss": 0.4}, parents=[r2], params={"layers": "[64, 32, 16]"})
    sha = b.write(tmp_path)

    def both(*args: str) -> tuple[list[dict], list[dict]]:
        proc = run_cli(*args, "--format", "csv", cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (0, "")
        return cli_json(tmp_path, *args), list(csv.DictReader(io.StringIO(proc.stdout)))

    rows, parsed = both("history", "-m", "loss", "a")
    assert [r["code_changes"] for r in rows] == [None, ['q"x.py', "we, ird.py"], []]
    assert [r["code_changes"] for r in parsed] == ["", '["q\\"x.py", "we, ird.py"]', "[]"]
    assert [json.loads(r["code_changes"]) for r in parsed[1:]] == \
        [r["code_changes"] for r in rows[1:]]
    rows, parsed = both("blame", "-m", "loss", "a")
    assert [json.loads(r["files"]) for r in parsed] == [r["files"] for r in rows] == \
        [['q"x.py', "we, ird.py"]]
    out = cli_json(tmp_path, "compare", sha[r1], sha[r3])
    proc = run_cli("compare", sha[r1], sha[r3], "--format", "csv", cwd=tmp_path)
    layers = next(r for r in csv.DictReader(io.StringIO(proc.stdout)) if r["key"] == "layers")
    first, last = (f"{sha[r][:10]} (a)" for r in (r1, r3))
    assert (layers[first], layers[last]) == ("[64, 32]", "[64, 32, 16]")
    shown = next(r for r in out["rows"] if r["key"] == "layers")
    assert (shown[first], shown[last]) == ([64, 32], [64, 32, 16])


def test_table_and_markdown_cells_spell_list_items_as_json(tmp_path: Path) -> None:
    """compare's table and Markdown wrote a param list's items with Python's str: a
    boolean as 'True', null as 'None', a layer's mapping as "{'n': 1}", where show and
    params.yaml write 'true', 'null', '{"n": 1}'. Items now read as JSON writes them."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0],
               params={"flags": "[true, null, 0.5]", "layers": "[{n: 1}, {n: 2}]"})
    r2 = b.run("a", {"loss": 0.5}, parents=[r1],
               params={"flags": "[false, null, 0.25]", "layers": "[{n: 1}]"})
    sha = b.write(tmp_path)
    first, last = (f"{sha[r][:10]} (a)" for r in (r1, r2))
    table = run_cli("compare", sha[r1], sha[r2], cwd=tmp_path).stdout.splitlines()
    assert [" ".join(line.split()) for line in table if line.startswith(("flags", "layers"))] \
        == ['flags * true, null, 0.5 false, null, 0.25', 'layers * {"n": 1}, {"n": 2} {"n": 1}']
    markdown = run_cli("compare", sha[r1], sha[r2], "--format", "markdown",
                       cwd=tmp_path).stdout
    assert '| layers | *       | {"n": 1}, {"n": 2}' in markdown
    assert first in markdown and last in markdown


def test_compare_joins_a_renamed_metric_as_history_does(tmp_path: Path) -> None:
    """With metrics.aliases {loss: [train/loss, train_loss]}, history linked a run's
    train_loss to the next run's loss; compare showed them as two rows, each half blank,
    with no delta. A series logged under different names is now one row, named as the
    series; a name a run logged beside the one the series takes keeps its own row."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"train_loss": 1.0, "acc": 0.5}, parents=[c0])
    r2 = b.run("a", {"loss": 0.6, "train_loss": 0.9}, parents=[r1])
    r3 = b.run("b", {"train": {"loss": 1.5}}, parents=[c0])
    sha = b.write(tmp_path)
    (tmp_path / ".gitlog.yaml").write_text(
        "metrics:\n  aliases:\n    loss: [train/loss, train_loss]\n")
    out = cli_json(tmp_path, "compare", sha[r1], sha[r2], sha[r3])
    l1, l2, l3 = (f"{sha[r][:10]} ({e})" for r, e in ((r1, "a"), (r2, "a"), (r3, "b")))
    d2, d3 = sha[r2][:10], sha[r3][:10]
    rows = {r["key"]: r for r in out["rows"] if r["section"] == "metrics"}
    assert list(rows) == ["acc", "loss", "train_loss"]
    assert rows["loss"] == {"section": "metrics", "key": "loss", "changed": "*",
                            l1: 1.0, l2: 0.6, l3: 1.5,
                            f"delta {d2}": -0.4, f"pct {d2}": -40.0, f"verdict {d2}": "better",
                            f"delta {d3}": 0.5, f"pct {d3}": 50.0, f"verdict {d3}": "worse"}
    assert [rows["train_loss"][label] for label in (l1, l2, l3)] == [None, 0.9, None]
    history = cli_json(tmp_path, "history", "-m", "loss", "a")
    assert [(r["loss"], r["loss_delta"]) for r in history] == [(1.0, None), (0.6, -0.4)]
    (tmp_path / ".gitlog.yaml").unlink()  # no series: each name is its own row
    keys = [r.key for r in gitlog.compare(sha[r1], sha[r3], repo=tmp_path).section("metrics")]
    assert keys == ["acc", "train/loss", "train_loss"]


def test_where_compares_numbers_text_and_booleans_as_a_user_means(tmp_path: Path) -> None:
    """A number and text (or true/false) were silently never a match, '!=' too:
    'params.optimizer != 3' kept no run, 'params.lr < 0.2' kept none when lr was logged
    as the text '0.1' (argparse without type=float), and 'params.optimizer < 3' or
    'params.lr < "x"', a typo on every run, answered an empty list."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0, "ok": True}, parents=[c0],
               params={"optimizer": "sgd", "lr": 0.1, "slr": "'0.1'"})
    r2 = b.run("a", {"loss": 2.0, "ok": False}, parents=[r1],
               params={"optimizer": "adam", "lr": 0.3, "slr": "'0.3'"})
    sha = b.write(tmp_path)

    def kept(where: str) -> list[str]:
        return [r.commit for r in gitlog.best("loss", where=where, repo=tmp_path)]

    both, first = [sha[r1], sha[r2]], [sha[r1]]
    for where, expected in (("params.optimizer == 3", []), ("params.optimizer != 3", both),
                            ("params.slr < 0.2", first), ("0.2 > params.slr", first),
                            ("params.slr == 0.1", first), ("params.slr == '0.1'", first),
                            ("params.lr < '0.2'", first), ("params.slr != 0.1", [sha[r2]]),
                            ("metrics.ok != 1", both), ("params.optimizer < 'b'", [sha[r2]])):
        assert kept(where) == expected, where
    for where, column, problem, hint in (
            ("params.optimizer < 3", 1, "params.optimizer is text in every run with the "
             "metric loss, never < the number 3", "text has no order against a number: "
             "compare it as text, params.optimizer == 'sgd'"),
            ("loss < 5 and params.lr < 'x'", 14, "params.lr is a number in every run with "
             "the metric loss, never < the text 'x'", "compare it with a number: params.lr "
             "< 0.1"),
            ("3 <= metrics.ok", 1, "metrics.ok is true/false in every run with the metric "
             "loss, never >= the number 3", "test it with == true or == false: metrics.ok "
             "== true")):
        proc = run_cli("best", "-m", "loss", "--where", where, cwd=tmp_path)
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            1, "", f"Error: bad --where at column {column}: {problem}\nhint: {hint}\n"), where
    with pytest.raises(gitlog.GitlogError, match="never < the number 3"):
        gitlog.best("loss", where="params.optimizer < 3", repo=tmp_path)


def test_compare_table_cuts_wide_values_by_columns_not_characters(tmp_path: Path) -> None:
    """compare's table cuts a value to 60 columns, but counted characters: a note of 40
    CJK characters, 80 columns wide, was printed whole and pushed the row off a terminal."""
    from gitlog.cli._table import width

    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    note = "学习率" * 13 + "高"  # 40 characters, 80 columns
    b.run("a", {"loss": 0.5}, parents=[c0], params={"note": note})
    b.run("b", {"loss": 0.4}, parents=[c0], params={"note": "plain"})
    repo = tmp_path / "p"
    b.write(repo)
    table = run_cli("compare", "a", "b", cwd=repo)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("note"))
    cell = next(w for w in row.split() if w.startswith("学"))
    assert cell.endswith("…") and width(cell) <= 60 and note.startswith(cell[:-1])
    whole = json.loads(run_cli("compare", "a", "b", "--format", "json", cwd=repo).stdout)
    assert note in json.dumps(whole, ensure_ascii=False)


def test_markdown_shows_angle_brackets_and_ampersands_as_written(tmp_path: Path) -> None:
    """Markdown wrote '<function relu at 0x7f>' and 'List<int>' raw: GitHub took them for
    HTML tags and showed nothing of them. '<' and '&' are now entities (the table, JSON
    and CSV keep the text as it is)."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0], params={"act": "'<function relu>'"},
               subject="Use List<int> & R&D's batches")
    r2 = b.run("a", {"loss": 0.5}, parents=[r1], params={"act": "gelu"})
    sha = b.write(tmp_path)
    markdown = run_cli("compare", sha[r1], sha[r2], "--format", "markdown",
                       cwd=tmp_path).stdout
    assert "Use List&lt;int> &amp; R&amp;D's batches" in markdown
    assert "&lt;function relu>" in markdown and "<" not in markdown
    history = run_cli("history", "-m", "loss", "exp/a", "--format", "markdown",
                      cwd=tmp_path).stdout
    assert "Use List&lt;int> &amp; R&amp;D's batches" in history and "<int>" not in history
    table = run_cli("history", "-m", "loss", "exp/a", cwd=tmp_path).stdout
    assert "Use List<int> & R&D's batches" in table
    rows = json.loads(run_cli("history", "-m", "loss", "exp/a", "--format", "json",
                              cwd=tmp_path).stdout)
    assert rows[0]["subject"] == "Use List<int> & R&D's batches"

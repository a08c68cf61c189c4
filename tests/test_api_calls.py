"""The Python query API called as a notebook user calls it: runs named one by one or in a
list, one metric in a list, metrics joined by commas, revisions as the second argument."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest

import gitlog
from tests.conftest import git, run_cli
from tests.runrepo import Builder
from tests.test_history import two_experiments


@pytest.fixture
def twoexp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "proj"
    return path, two_experiments(path)


def _table(comparison: Any) -> list[tuple]:
    return [(r.section, r.key, r.values, r.changed, r.deltas, r.verdicts)
            for r in comparison.rows]


def test_compare_takes_runs_one_by_one_as_well_as_in_a_list(twoexp: tuple[Path, dict]) -> None:
    """compare("b", "a") raised TypeError (one positional argument); it is compare(["b", "a"])."""
    repo, c = twoexp
    listed = gitlog.compare(["b", "a"], repo=repo)
    apart = gitlog.compare("b", "a", repo=repo)
    assert [r.commit for r in apart.runs] == [c["b2"], c["a4"]]
    assert _table(apart) == _table(listed) == _table(gitlog.compare(revs=["b", "a"], repo=repo))
    assert [(x.path, x.insertions, x.deletions) for x in apart.code] == \
        [("model.py", 1, 0), ("train.py", 1, 1)]
    three = gitlog.compare(c["a1"], "a", "b", repo=repo)
    assert [r.commit for r in three.runs] == [c["a1"], c["a4"], c["b2"]]


def test_compare_changed_keeps_the_keys_that_differ_as_the_cli_does(tmp_path: Path) -> None:
    """--changed was the CLI's own filter; the API had no way to ask for it."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0, "accuracy": 0.5}, parents=[c1],
               params={"lr": 0.1, "batch": 32})
    b.run("a", {"loss": 0.8, "accuracy": 0.5}, parents=[r1], params={"lr": 0.2, "batch": 32})
    repo = tmp_path / "p"
    shas = b.write(repo)
    every = gitlog.compare(shas[r1], "a", repo=repo)
    assert [(r.section, r.key, r.changed) for r in every.rows] == [
        ("params", "batch", False), ("params", "lr", True),
        ("metrics", "accuracy", False), ("metrics", "loss", True)]
    changed = gitlog.compare(shas[r1], "a", changed=True, repo=repo)
    assert [(r.section, r.key, r.values, r.deltas) for r in changed.rows] == [
        ("params", "lr", [0.1, 0.2], []), ("metrics", "loss", [1.0, 0.8], [-0.2])]
    proc = run_cli("compare", shas[r1], "a", "--changed", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert [(r["section"], r["key"]) for r in json.loads(proc.stdout)["rows"]] == \
        [("params", "lr"), ("metrics", "loss")]


def test_best_blame_and_bisect_take_one_metric_in_a_list(twoexp: tuple[Path, dict]) -> None:
    """best(["loss"]) and blame(["loss"]) raised AttributeError ('list' has no 'strip');
    history takes a list, so these take a list of one, and refuse several by name."""
    repo, c = twoexp
    assert [(r.commit, r.value) for r in gitlog.best(["loss"], repo=repo)] == [
        (c["a4"], 0.6), (c["a2"], 0.8), (c["b1"], 0.9), (c["a1"], 1.0), (c["b2"], 1.2)]
    assert [(r.commit, r.delta) for r in gitlog.blame(("loss",), all=True, repo=repo)] == \
        [(r.commit, r.delta) for r in gitlog.blame("loss", all=True, repo=repo)] != []
    for call, name in ((lambda: gitlog.best(["loss", "accuracy"], repo=repo), "best"),
                       (lambda: gitlog.blame(["loss", "accuracy"], all=True, repo=repo),
                        "blame"),
                       (lambda: gitlog.bisect(["loss", "accuracy"], 0.7, good=c["a1"],
                                              bad="a", command="true", repo=repo), "bisect")):
        with pytest.raises(gitlog.GitlogError) as info:
            call()
        assert str(info.value) == f"{name} goes by one metric, got 2: loss, accuracy"
        assert info.value.hint == (f"name one: gitlog.{name}('loss', ...); gitlog.history "
                                   "takes several")
    with pytest.raises(gitlog.GitlogError, match="^no metric given"):
        gitlog.best([], repo=repo)
    assert git(repo, "branch", "--list", "exp/bisect") == ""  # bisect ran and logged nothing


def test_best_takes_revisions_second_as_history_and_blame_do(twoexp: tuple[Path, dict]) -> None:
    """best("loss", "b") raised TypeError: revs was keyword-only, unlike history's and blame's."""
    repo, c = twoexp
    assert [r.commit for r in gitlog.best("loss", "b", repo=repo)] == [c["b1"], c["b2"]]
    assert [r.commit for r in gitlog.best("loss", ["b", "a~3"], repo=repo)] == \
        [c["b1"], c["a1"], c["b2"]]


def test_history_reads_metrics_joined_by_commas_as_the_cli_does(
        twoexp: tuple[Path, dict]) -> None:
    """history("loss,accuracy") said 'no run has the metric loss,accuracy' while its hint
    listed both, and -m loss,accuracy works: one parser now serves both."""
    repo, c = twoexp
    rows = gitlog.history("loss, accuracy", "a", repo=repo)
    assert [r.commit for r in rows] == [c["a1"], c["a2"], c["a3"], c["a4"]]
    assert [list(r.metrics) for r in rows] == [["loss", "accuracy"]] * 4
    assert [(r.metrics["loss"].value, r.metrics["accuracy"].value) for r in rows] == \
        [(1.0, 0.5), (0.8, 0.6), (None, 0.7), (0.6, 0.75)]
    proc = run_cli("history", "-m", "loss,accuracy", "a", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert [(r["loss"], r["accuracy_delta"]) for r in json.loads(proc.stdout)] == \
        [(r.metrics["loss"].value, r.metrics["accuracy"].delta) for r in rows]
    with pytest.raises(gitlog.GitlogError, match="^no metric given"):
        gitlog.history(" , ", "a", repo=repo)


def test_logs_takes_a_level_as_a_python_logging_number(tmp_path: Path) -> None:
    """logs(level=logging.WARNING) raised AttributeError ('int' has no 'lower')."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    events = "".join(json.dumps(e) + "\n" for e in [
        {"ts": "t1", "level": "info", "message": "epoch 1", "fields": {}, "step": 1},
        {"ts": "t2", "level": "warning", "message": "loss is NaN", "fields": {}, "step": 2},
        {"ts": "t3", "level": "error", "message": "diverged", "fields": {}, "step": 3}])
    b.run("l", {"loss": 1}, parents=[c1], code={".gitlog/events.jsonl": events})
    repo = tmp_path / "p"
    b.write(repo)
    for level, messages in ((logging.WARNING, ["loss is NaN", "diverged"]),
                            (logging.ERROR, ["diverged"]), (logging.DEBUG,
                                                            ["epoch 1", "loss is NaN",
                                                             "diverged"])):
        got = gitlog.logs("l", level=level, repo=repo).events
        assert [e.message for e in got] == messages
        assert got == gitlog.logs("l", level=logging.getLevelName(level).lower(),
                                  repo=repo).events
    with pytest.raises(gitlog.GitlogError, match="^unknown level 'loud'"):
        gitlog.logs("l", level="loud", repo=repo)


def test_history_takes_python_dates(twoexp: tuple[Path, dict]) -> None:
    """since=datetime.date(...) or a datetime raised AttributeError ('no attribute strip'):
    a datetime is that moment, a date that whole day, as --since 2024-01-01 reads it."""
    repo, c = twoexp
    utc = dt.timezone.utc

    def commits(**kw: Any) -> list[str]:
        return [r.commit for r in gitlog.history("loss", all=True, repo=repo, **kw)]

    assert commits(since=dt.datetime(2024, 1, 1, 0, 5, tzinfo=utc)) == \
        commits(since="2024-01-01 00:05:00 +0000") == [c["b2"], c["a3"], c["a4"]]
    assert commits(until=dt.datetime(2024, 1, 1, 0, 3, tzinfo=utc)) == [c["a1"], c["b1"]]
    assert commits(since=dt.date(2024, 1, 1), until=dt.date(2024, 1, 1)) == \
        commits() == [c["a1"], c["b1"], c["a2"], c["b2"], c["a3"], c["a4"]]
    assert commits(since=dt.date(2024, 1, 2)) == []


def test_history_best_and_blame_take_revs_none_as_none_given(twoexp: tuple[Path, dict]) -> None:
    """revs=None (a notebook variable left unset) raised TypeError ('NoneType' is not
    iterable) in history, best and blame."""
    repo, c = twoexp
    assert [r.commit for r in gitlog.history("loss", None, all=True, repo=repo)] == \
        [c["a1"], c["b1"], c["a2"], c["b2"], c["a3"], c["a4"]]
    assert [r.commit for r in gitlog.best("loss", None, repo=repo)] == \
        [c["a4"], c["a2"], c["b1"], c["a1"], c["b2"]]
    assert [r.commit for r in gitlog.blame("loss", None, all=True, repo=repo)] == \
        [r.commit for r in gitlog.blame("loss", all=True, repo=repo)] != []


def test_wrong_argument_types_are_gitlog_errors_naming_the_fix(
        twoexp: tuple[Path, dict]) -> None:
    """A notebook's slip (n="3", revs=Path(...), metric=1, repo=None, grep=1) raised a
    TypeError or AttributeError from deep inside, and n=2.5 gave no rows, n=True one: each
    is now a GitlogError naming the argument and how to pass it."""
    repo, c = twoexp
    cases: list[tuple[Any, str, str]] = [
        (lambda: gitlog.history("loss", all=True, n="3", repo=repo),
         "history: n must be a whole number of 1 or more, got str '3'",
         "n=10 keeps the newest 10; n=None keeps every one"),
        (lambda: gitlog.history("loss", all=True, n=2.5, repo=repo),
         "history: n must be a whole number of 1 or more, got float 2.5",
         "n=10 keeps the newest 10; n=None keeps every one"),
        (lambda: gitlog.history("loss", all=True, n=True, repo=repo),
         "history: n must be a whole number of 1 or more, got bool True",
         "n=10 keeps the newest 10; n=None keeps every one"),
        (lambda: gitlog.history(1, repo=repo),
         "history: a metric is named by a str, got int 1", "gitlog.history('loss', ...)"),
        (lambda: gitlog.history(["loss", None], "a", repo=repo),
         "history: a metric is named by a str, got NoneType None",
         "gitlog.history('loss', ...)"),
        (lambda: gitlog.history("loss", Path("a"), repo=repo),
         "history: revs names commits, branches or experiments, got the path 'a'",
         "pass the repository as repo=: gitlog.history(..., repo='a')"),
        (lambda: gitlog.history("loss", ["a", None], repo=repo),
         "history: a revision is a str (a commit, branch, range or experiment name), got "
         "NoneType None", "gitlog.history(..., 'baseline') or a list of names: "
                          "['exp/a', 'exp/b']"),
        (lambda: gitlog.history("loss", all=True, repo=None),
         "repo is a folder (a str or a Path), got NoneType None",
         "repo='path/to/project' (default: the current folder)"),
        (lambda: gitlog.history("loss", all=True, repo=repo / "train.py"),
         f"not a folder: {repo / 'train.py'}",
         "pass the repository's folder, or a folder inside it"),
        (lambda: gitlog.best("loss", n="2", repo=repo),
         "best: n must be a whole number of 1 or more, got str '2'",
         "n=10 keeps the best 10; n=None keeps every one"),
        (lambda: gitlog.best("loss", where=1, repo=repo),
         "best: where is a str, got int 1", "where='params.lr < 0.1'"),
        (lambda: gitlog.blame(1, all=True, repo=repo),
         "blame: a metric is named by a str, got int 1", "gitlog.blame('loss', ...)"),
        (lambda: gitlog.compare("a", 3, repo=repo),
         "compare: a revision is a str (a commit, branch, range or experiment name), got "
         "int 3", "gitlog.compare(..., 'baseline') or a list of names: ['exp/a', 'exp/b']"),
        (lambda: gitlog.logs(["a"], repo=repo),
         "logs takes one revision, a str, got list ['a']",
         "gitlog.logs('baseline'); gitlog.compare takes several"),
        (lambda: gitlog.logs("a", grep=1, repo=repo), "logs: grep is a str, got int 1",
         "grep='nan'"),
        (lambda: gitlog.show(1, repo=repo), "show takes one revision, a str, got int 1",
         "gitlog.show('baseline'); gitlog.compare takes several"),
        (lambda: gitlog.bisect("loss", 0.7, good=None, bad="a", command="true", repo=repo),
         "bisect: good is a str, got NoneType None", "good='v1.0'"),
        (lambda: gitlog.bisect("loss", 0.7, good=c["a1"], bad=["a"], command="true",
                               repo=repo), "bisect: bad is a str, got list ['a']", "bad='main'"),
        (lambda: gitlog.bisect("loss", 0.7, good=c["a1"], bad="a", command="true",
                               repo=None),
         "repo is a folder (a str or a Path), got NoneType None",
         "repo='path/to/project' (default: the current folder)"),
    ]
    for call, message, hint in cases:
        with pytest.raises(gitlog.GitlogError) as info:
            call()
        assert (str(info.value), info.value.hint) == (message, hint)
    assert git(repo, "branch", "--list", "exp/bisect") == ""  # bisect logged nothing


def test_n_none_keeps_every_row_and_a_numpy_int_is_a_count(twoexp: tuple[Path, dict]) -> None:
    """best(n=None) and blame(n=None) raised TypeError ('<' between NoneType and int) while
    history(n=None) keeps every row; a numpy integer (len of an array) is a count too."""
    import numpy as np

    repo, c = twoexp
    assert [r.commit for r in gitlog.best("loss", n=None, repo=repo)] == \
        [c["a4"], c["a2"], c["b1"], c["a1"], c["b2"]]
    assert [r.commit for r in gitlog.best("loss", n=np.int64(2), repo=repo)] == \
        [c["a4"], c["a2"]]
    assert gitlog.blame("loss", all=True, n=None, repo=repo) == \
        gitlog.blame("loss", all=True, repo=repo)
    assert [r.commit for r in gitlog.history("loss", all=True, n=np.int64(2), repo=repo)] == \
        [c["a3"], c["a4"]]


def test_every_query_documents_each_of_its_parameters() -> None:
    """help(gitlog.history) named 3 of its 10 parameters, best's and blame's none, bisect's
    one line none: each parameter now has its line in the docstring."""
    import inspect
    import re

    for name in ("history", "compare", "best", "blame", "logs", "bisect", "show",
                 "list_experiments"):
        func = getattr(gitlog, name)
        doc = inspect.getdoc(func) or ""
        # a line "name: ..." or "name, other: ..." for each
        documented = {p for line in re.findall(r"^([\w, ]+):", doc, re.M)
                      for p in line.split(", ")}
        undocumented = [p for p in inspect.signature(func).parameters if p not in documented]
        assert undocumented == [], name


def test_history_record_is_the_cli_json_row_for_a_data_frame(
        twoexp: tuple[Path, dict]) -> None:
    """pd.DataFrame(rows) nests every metric in one column of dicts; row.record() is the
    row flat, with the columns and values of 'gitlog history --format json'."""
    import pandas as pd

    repo, c = twoexp
    rows = gitlog.history("loss,accuracy", all=True, repo=repo)
    proc = run_cli("history", "-m", "loss,accuracy", "--all", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    records = [r.record() for r in rows]
    assert [{**r, "commit": r["commit"][:10]} for r in records] == \
        [{**j, "run": r.run, "status": "completed", "author": "Ada Trainer <ada@example.com>",
          "previous": r.previous} for j, r in zip(cli, rows, strict=True)]
    frame = pd.DataFrame(records)
    assert list(frame.columns) == [
        "commit", "date", "experiment", "subject", "loss", "loss_delta", "loss_pct",
        "loss_verdict", "accuracy", "accuracy_delta", "accuracy_pct", "accuracy_verdict",
        "code_changes", "run", "status", "author", "previous"]
    assert frame["commit"].tolist() == [c[k] for k in ("a1", "b1", "a2", "b2", "a3", "a4")]
    assert frame["loss_delta"].dtype == float


def test_repo_takes_a_path_a_subfolder_and_a_home_relative_folder(tmp_path: Path) -> None:
    """repo='~/proj' (a notebook has no shell to expand it) said 'no such folder:
    <cwd>/~/proj'; a str, a Path and a folder inside the repository all worked."""
    import os

    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n", "src/model.py": "m\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c1])
    home = Path(os.environ["HOME"])
    shas = b.write(home / "proj")
    expected = [shas[r1]]
    for repo in ("~/proj", home / "proj", str(home / "proj"), home / "proj" / "src",
                 Path("~") / "proj" / "src"):
        assert [r.commit for r in gitlog.history("loss", all=True, repo=repo)] == expected
        assert gitlog.logs("a", repo=repo).commit == expected[0]


def test_regressions_of_one_is_a_threshold_not_true(twoexp: tuple[Path, dict]) -> None:
    """history(regressions=1) kept every regression: 1 == True, so a threshold of 1 (or
    1.0) was read as 'any'. b2 made loss worse by 0.3 (0.9 -> 1.2)."""
    repo, c = twoexp

    def kept(threshold: Any) -> list[str]:
        return [r.commit for r in gitlog.history("loss", all=True, repo=repo,
                                                 regressions=threshold)]

    assert kept(True) == kept(0.2) == kept("0.2") == kept(0) == [c["b2"]]
    assert kept(1) == kept(1.0) == kept("1") == kept(0.5) == []
    assert kept(False) == kept(None) == [c[k] for k in ("a1", "b1", "a2", "b2", "a3", "a4")]

"""``gitlog history`` on repositories built with known values: exact rows."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import warnings
from pathlib import Path

import pytest

import gitlog
from tests.conftest import git, run_cli, run_python
from tests.runrepo import BASE, Builder, iso


def two_experiments(path: Path) -> dict[str, str]:
    """main: c1; exp/a: a1 a2(code) a3(no loss) a4(code); exp/b: b1 b2."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"}, message="initial code")
    a1 = b.run("a", {"loss": 1.0, "accuracy": 0.5}, parents=[c1], params={"lr": 0.1},
               run_id="a1", subject="a: first")
    b1 = b.run("b", {"loss": 0.9, "accuracy": 0.55}, parents=[c1], params={"lr": 0.01},
               run_id="b1", subject="b: first")
    a2 = b.run("a", {"loss": 0.8, "accuracy": 0.6}, parents=[a1], run_id="a2",
               code={"train.py": "v2\n", "model.py": "m\n"}, subject="a: new model")
    b2 = b.run("b", {"loss": 1.2, "accuracy": 0.5}, parents=[b1], run_id="b2",
               params={"lr": 0.02}, subject="b: higher lr")
    a3 = b.run("a", {"accuracy": 0.7}, parents=[a2], run_id="a3", subject="a: no loss")
    a4 = b.run("a", {"loss": 0.6, "accuracy": 0.75}, parents=[a3], run_id="a4",
               code={"train.py": "v3\n"}, subject="a: tuned")
    shas = b.write(path)
    return {name: shas[mark] for name, mark in
            (("c1", c1), ("a1", a1), ("b1", b1), ("a2", a2), ("b2", b2), ("a3", a3),
             ("a4", a4))}


def row(commit: str, n: int, experiment: str, subject: str, loss: float | None,
        delta: float | None = None, pct: float | None = None, verdict: str | None = None,
        changes: list[str] | None = None) -> dict:
    return {"commit": commit[:10], "date": iso(n), "experiment": experiment,
            "subject": subject, "loss": loss, "loss_delta": delta, "loss_pct": pct,
            "loss_verdict": verdict, "code_changes": changes}


def history_json(repo: Path, *args: str) -> list[dict]:
    proc = run_cli("history", *args, "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def twoexp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "proj"
    return path, two_experiments(path)


def test_history_all_gives_exact_rows_oldest_first(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    assert history_json(repo, "--metric", "loss", "--all") == [
        row(c["a1"], 2, "a", "a: first", 1.0),
        row(c["b1"], 3, "b", "b: first", 0.9),
        row(c["a2"], 4, "a", "a: new model", 0.8, -0.2, -20.0, "better",
            ["model.py", "train.py"]),
        row(c["b2"], 5, "b", "b: higher lr", 1.2, 0.3, 33.33, "worse", []),
        row(c["a3"], 6, "a", "a: no loss", None, None, None, None, []),
        row(c["a4"], 7, "a", "a: tuned", 0.6, -0.2, -25.0, "better", ["train.py"]),
    ]


def test_formats_hold_the_same_content_and_stdout_is_clean(twoexp: tuple[Path, dict]) -> None:
    repo, _ = twoexp
    rows = history_json(repo, "-m", "loss", "--all")
    proc = run_cli("history", "-m", "loss", "--all", "--format", "csv", cwd=repo)
    assert proc.returncode == 0 and proc.stderr == ""
    parsed = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert list(parsed[0]) == list(rows[0])

    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, list):  # as JSON writes it: a file name may hold ", "
            return json.dumps(value)
        return repr(value) if isinstance(value, float) else str(value)

    assert parsed == [{k: text(v) for k, v in r.items()} for r in rows]
    table = run_cli("history", "-m", "loss", "--all", cwd=repo).stdout.splitlines()
    md = run_cli("history", "-m", "loss", "--all", "--format", "markdown",
                 cwd=repo).stdout.splitlines()
    assert table[0].startswith("loss  ") and "1 -> 0.6 over 5 runs (lower is better)" in table[0]
    for shown in (table[4:], md[2:]):
        assert len(shown) == len(rows)
        for line, r in zip(shown, rows, strict=False):
            cells = line.strip("| ").split()
            assert cells[0] == r["commit"] and r["date"] in line and r["subject"] in line
    assert "+33.33%" in table[7] and "worse" in table[7] and "model.py, train.py" in table[6]


def test_current_branch_and_ranges_and_experiment_names(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    git(repo, "checkout", "-q", "exp/b")
    assert [r["commit"] for r in history_json(repo, "-m", "loss")] == \
        [c["b1"][:10], c["b2"][:10]]
    assert [r["commit"] for r in history_json(repo, "-m", "loss", "a")] == \
        [c[k][:10] for k in ("a1", "a2", "a3", "a4")]
    ranged = history_json(repo, "-m", "loss", "exp/a~2..exp/a")
    assert [r["commit"] for r in ranged] == [c["a3"][:10], c["a4"][:10]]
    # like git log, a range limits what is compared: a2 (the last loss) is outside it
    assert ranged[1]["loss_delta"] is None


def test_a_range_that_selects_no_commit_says_so(twoexp: tuple[Path, dict]) -> None:
    """'history main..main' (and A..B with B in A's history) said "no runs found in
    main..main" with the hint to log one: the range holds no commit at all, runs or not."""
    repo, _ = twoexp
    swap = ("Error: the range a..a~2 selects no commit\nhint: A..B lists the commits of B "
            "that A lacks, and a~2 is in the history of a: swap the ends, a~2..a\n")
    for query, stderr in (
            (["history", "main..main"], "Error: the range main..main selects no commit\n"
             "hint: both ends are main: name it alone (main), or a range from an older "
             "commit (main~5..main)\n"),
            (["history", "-m", "loss", "a..a~2"], swap),
            (["best", "-m", "loss", "a..a~2"], swap),
            (["blame", "-m", "loss", "a..a~2"], swap),
            (["history", "-m", "loss", "^exp/a", "exp/a~1"],
             "Error: the revisions ^exp/a exp/a~1 select no commit\nhint: each ^REV (or A in "
             "A..B) leaves out the commits REV holds: leave out less, or name the branch "
             "alone\n")):
        proc = run_cli(*query, cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", stderr), query
    # commits that are no runs still say there is no run in them
    proc = run_cli("history", "-m", "loss", "main", cwd=repo)
    assert (proc.returncode, proc.stderr) == (1, "Error: no runs found in main\n"
                                                 "hint: log one: gitlog run -e NAME -- python "
                                                 "train.py\n")


def test_markdown_aligns_a_column_by_its_kind_even_when_empty(
        twoexp: tuple[Path, dict]) -> None:
    """With one run (or no delta anywhere), Markdown's alignment row left-aligned the
    empty delta and % columns (|------|) while the value column beside them, and the same
    columns of any other query, are right-aligned (|-----:|)."""
    repo, c = twoexp
    md = run_cli("history", "-m", "loss", "exp/a~3", "--format", "markdown", cwd=repo)
    assert md.stdout.splitlines() == [
        "| commit     | date                      | experiment | subject  | loss | loss_delta "
        "| loss_pct | loss_verdict | code_changes |",
        "|------------|---------------------------|------------|----------|-----:|-----------:"
        "|---------:|--------------|--------------|",
        f"| {c['a1'][:10]} | {iso(2)} | a          | a: first |    1 |            "
        "|          |              |              |"]
    # compare: a % from a base of 0 is blank in every row, yet a column of numbers
    b = Builder()
    r1 = b.run("z", {"loss": 0}, parents=[])
    r2 = b.run("z", {"loss": 0.5}, parents=[r1])
    sha = b.write(repo.parent / "zero")
    md = run_cli("compare", sha[r1], sha[r2], "--format", "markdown", cwd=repo.parent / "zero")
    lines = md.stdout.splitlines()
    at = lines.index("### metrics")
    assert lines[at + 2:at + 5] == [
        f"| key  | changed | {sha[r1][:10]} (z) | {sha[r2][:10]} (z) | delta | pct | verdict |",
        "|------|---------|---------------:|---------------:|------:|----:|---------|",
        "| loss | *       |              0 |            0.5 |  +0.5 |     | worse   |"]


def test_no_query_or_format_shows_a_signed_zero(tmp_path: Path) -> None:
    """A metrics.json holding -0.0 (or a value 0.0 after -0.0) showed '-0' in tables and
    Markdown, -0.0 in JSON, CSV and the Python rows: a value, a delta (-0.0 - 0.0 is
    -0.0), and the sparkline's 'from -> to', in history, compare, blame and best
    (``show`` prints what metrics.json holds)."""
    import re

    def signed_zero(text: str) -> list[str]:  # -0, -0.0, -0.00% (not a date's -01)
        return re.findall(r"(?<!\w)-0(?:\.0*)?%?(?![\w.])", text)

    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"})
    r1 = b.run("a", '{"loss": 0.0}', parents=[c1])
    r2 = b.run("a", '{"loss": -0.0}', parents=[r1], code={"train.py": "v2\n"})
    sha = b.write(tmp_path)
    rows = history_json(tmp_path, "-m", "loss", "a")
    assert [(r["loss"], r["loss_delta"], r["loss_pct"], r["loss_verdict"]) for r in rows] == \
        [(0.0, None, None, None), (0.0, 0.0, None, "same")]
    csv_rows = run_cli("history", "-m", "loss", "a", "--format", "csv", cwd=tmp_path).stdout
    assert [line.split(",")[4:8] for line in csv_rows.splitlines()] == [
        ["loss", "loss_delta", "loss_pct", "loss_verdict"], ["0.0", "", "", ""],
        ["0.0", "0.0", "", "same"]]
    table = run_cli("history", "-m", "loss", "a", cwd=tmp_path).stdout.splitlines()
    assert table[0] == "loss  ▄▄  0 -> 0 over 2 runs (lower is better)"
    assert [line.split()[6:9] for line in table[-2:]] == [["0"], ["0", "+0", "same"]]
    md = run_cli("history", "-m", "loss", "a", "--format", "markdown", cwd=tmp_path).stdout
    assert not signed_zero(md) and md.splitlines()[-1].split("|")[5:8] == [
        "    0 ", "         +0 ", "          "]
    api = gitlog.history("loss", "a", repo=tmp_path)
    assert [repr((r.metrics["loss"].value, r.metrics["loss"].delta)) for r in api] == \
        ["(0.0, None)", "(0.0, 0.0)"]
    compare = run_cli("compare", sha[r1], sha[r2], "--format", "json", cwd=tmp_path).stdout
    assert json.loads(compare)["rows"] == [{
        "section": "metrics", "key": "loss", "changed": "", f"{sha[r1][:10]} (a)": 0.0,
        f"{sha[r2][:10]} (a)": 0.0, "delta": 0.0, "pct": None, "verdict": "same"}]
    assert not signed_zero(compare + run_cli("compare", sha[r1], sha[r2], cwd=tmp_path).stdout)
    blame = run_cli("blame", "-m", "loss", "a", "--format", "csv", cwd=tmp_path).stdout
    assert blame.splitlines()[1].split(",")[5:9] == ["0.0", "0.0", "", "same"]
    assert [repr(r.value) for r in gitlog.best("loss", repo=tmp_path)] == ["0.0", "0.0"]
    assert not signed_zero(run_cli("best", "-m", "loss", "--where", "loss < 1", cwd=tmp_path,
                                   ).stdout)


def test_runs_in_the_same_second_read_the_same_warm_and_cold(tmp_path: Path) -> None:
    """git orders commits of the same second its own way: rows added to stored ones in
    the same second as the latest stored run are walked whole, so warm and cold agree."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    b.run("a", {"loss": 1.0}, parents=[c1], run_id="a1", at=5)
    b.run("b", {"loss": 2.0}, parents=[c1], run_id="b1", at=5)
    repo = tmp_path / "p"
    b.write(repo)
    history_json(repo, "-m", "loss", "--all")
    add_run(repo, "a", "a2", 3.0, 5)  # the same second as a1 and b1
    warm = history_json(repo, "-m", "loss", "--all", "-n", "2")
    shutil.rmtree(repo / ".git" / "gitlog")
    assert warm == history_json(repo, "-m", "loss", "--all", "-n", "2")


def test_all_with_revisions_takes_them_as_git_log_does(twoexp: tuple[Path, dict]) -> None:
    """--all ^exp/a: every experiment but what exp/a holds."""
    repo, c = twoexp
    rows = history_json(repo, "-m", "loss", "--all", "^exp/a")
    assert [r["commit"] for r in rows] == [c["b1"][:10], c["b2"][:10]]


def test_main_without_runs_shows_every_experiment_and_says_so(
        twoexp: tuple[Path, dict]) -> None:
    repo, _ = twoexp
    proc = run_cli("history", "-m", "loss", "--format", "json", cwd=repo)
    assert proc.returncode == 0
    assert len(json.loads(proc.stdout)) == 6
    assert "main holds no runs; showing every experiment's runs" in proc.stderr


def test_several_metrics_limits_and_regressions(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    rows = history_json(repo, "-m", "loss,accuracy", "--all", "-n", "2")
    assert [r["commit"] for r in rows] == [c["a3"][:10], c["a4"][:10]]
    assert rows[0]["accuracy"] == 0.7 and rows[0]["accuracy_delta"] == 0.1
    assert rows[0]["accuracy_verdict"] == "better" and rows[0]["accuracy_pct"] == 16.67
    worse = history_json(repo, "-m", "loss", "--all", "--regressions")
    assert [r["commit"] for r in worse] == [c["b2"][:10]]
    assert history_json(repo, "-m", "loss", "--all", "--regressions=50%") == []
    assert len(history_json(repo, "-m", "loss", "--all", "--regressions=0.25")) == 1
    since = history_json(repo, "-m", "loss", "--all", "--since", iso(5).replace("T", " "))
    assert [r["commit"] for r in since] == [c["b2"][:10], c["a3"][:10], c["a4"][:10]]
    until = history_json(repo, "-m", "loss", "--all", "--until", iso(3).replace("T", " "))
    assert [r["commit"] for r in until] == [c["a1"][:10], c["b1"][:10]]


def test_a_day_alone_means_that_whole_day_and_unreadable_dates_are_errors(
        twoexp: tuple[Path, dict]) -> None:
    """git reads --since 2024-01-01 at the current time of day (so the runs of that
    morning vanished), and text it cannot read at all as now (so nothing matched)."""
    repo, c = twoexp
    utc = {"TZ": "UTC"}

    def commits(*args: str) -> list[str]:
        proc = run_cli("history", "-m", "loss", "--all", *args, "--format", "json",
                       cwd=repo, env=utc)
        assert proc.returncode == 0, proc.stderr
        return [r["commit"] for r in json.loads(proc.stdout)]

    every = [c[k][:10] for k in ("a1", "b1", "a2", "b2", "a3", "a4")]
    assert commits("--since", "2024-01-01") == every
    assert commits("--until", "2024-01-01") == every
    assert commits("--since", "2024/01/01", "--until", "2024-01-01") == every
    assert commits("--since", "2024-01-02") == [] and commits("--until", "2023-12-31") == []
    assert commits("--since", "2024-01-01 01:05 +0100") == every[3:]
    assert commits("--until", "now") == every
    for text in ("garbage", "never"):
        bad = run_cli("history", "-m", "loss", "--all", "--since", text, cwd=repo)
        assert bad.returncode == 1 and bad.stdout == ""
        assert bad.stderr.startswith(f"Error: bad --since date '{text}'\nhint: use a date")


def test_a_day_in_words_means_that_whole_day_too(twoexp: tuple[Path, dict]) -> None:
    """git read --since 'jan 1 2024' at the current time of day, so the runs of that
    morning vanished (a day as 2024-01-01 already meant the whole day)."""
    repo, c = twoexp

    def commits(*args: str) -> list[str]:
        proc = run_cli("history", "-m", "loss", "--all", *args, "--format", "json",
                       cwd=repo, env={"TZ": "UTC"})
        assert proc.returncode == 0, proc.stderr
        return [r["commit"] for r in json.loads(proc.stdout)]

    every = [c[k][:10] for k in ("a1", "b1", "a2", "b2", "a3", "a4")]
    for day in ("jan 1 2024", "1 January 2024", "Mon, 1 Jan 2024", "01/01/2024"):
        assert commits("--since", day) == every, day
        assert commits("--until", day) == every, day
    assert commits("--since", "jan 2 2024") == [] and commits("--until", "dec 31 2023") == []
    assert commits("--since", "jan 1 2024 00:05") == every[3:]  # a time given stays
    assert commits("--until", "jan 1 2024 00:03") == every[:2]
    assert commits("--since", "2 weeks ago") == []  # relative: as git reads it
    assert commits("--since", "today") == [] and commits("--until", "today") == every


def test_steps_of_the_series(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("s", {"loss": 0.5}, parents=[c1], series={"loss": [(0, 0.9), (1, 0.4), (2, 0.5)]})
    r2 = b.run("s", {"loss": 0.3}, parents=[r1], series={"loss": [(0, 0.8), (1, 0.2), (2, 0.3)]})
    b.run("n", {"loss": 0.1}, parents=[c1])  # no series
    repo = tmp_path / "p"
    b.write(repo)
    values = {step: [r["loss"] for r in history_json(repo, "-m", "loss", "exp/s", "--step", step)]
              for step in ("last", "min", "max", "1")}
    assert values == {"last": [0.5, 0.3], "min": [0.4, 0.2], "max": [0.9, 0.8],
                      "1": [0.4, 0.2]}
    # loss is logged, only not at that point: said so, not "no run has the metric loss"
    # with loss among the metrics the hint lists
    missing = run_cli("history", "-m", "loss", "exp/s", "--step", "7", cwd=repo)
    assert missing.returncode == 1 and missing.stderr.splitlines() == [
        "Error: no run logged loss at step 7",
        "hint: leave out --step for the value in metrics.json, or take --step last"]
    bare = run_cli("history", "-m", "loss", "exp/n", "--step", "max", cwd=repo)
    assert bare.returncode == 1 and bare.stderr.splitlines() == [
        "Error: no run logged loss as a step series (metrics/NAME.tsv)",
        "hint: leave out --step for the value in metrics.json"]
    for text in ("first", "-1"):
        bad = run_cli("history", "-m", "loss", "exp/s", f"--step={text}", cwd=repo)
        assert bad.returncode == 1 and f"bad --step '{text}'" in bad.stderr
        assert "hint: use last, min, max or a step number (0 or more)" in bad.stderr
    assert r2


def test_merges_show_each_run_once(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    git(repo, "merge", "-q", "--no-ff", "-m", "take a", "exp/a")
    git(repo, "merge", "-q", "--no-ff", "-X", "theirs", "-m", "take b", "exp/b")
    rows = history_json(repo, "-m", "loss")  # main now holds runs of both lines
    assert [r["commit"] for r in rows] == [c[k][:10] for k in ("a1", "b1", "a2", "b2", "a3",
                                                                "a4")]
    assert rows[3]["loss_delta"] == 0.3  # b2 against b1: its own line
    # along main's own line, each merge is where a run landed on main
    first_parent = history_json(repo, "-m", "loss", "--first-parent")
    assert [(r["subject"], r["experiment"], r["loss"], r["loss_delta"], r["code_changes"])
            for r in first_parent] == [("take a", "a", 0.6, None, None),
                                       ("take b", "b", 1.2, 0.6, [])]


def test_forks_from_old_runs_and_copies_of_runs_still_reached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk drops a commit's linking entry once its last child is linked (counted by
    ``walk.Children``): a branch forked from an old run still compares with
    that run. A rebase whose old line is still reachable shows each run once; a new run
    on the rebased line compares with the copy it follows. The rows are the same when
    nothing is dropped."""
    from gitlog import historyrows, walk
    from gitlog.git import Repo

    monkeypatch.setattr(historyrows, "COUNT_CHILDREN_FROM", 0)  # count them in any repo
    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"}, message="initial code")
    a1 = b.run("a", {"loss": 1.0}, parents=[c1], run_id="a1")
    a2 = b.run("a", {"loss": 0.8}, parents=[a1], run_id="a2", branch="exp/a-old")
    a3 = b.run("a", {"loss": 0.7}, parents=[a2], run_id="a3", branch="exp/a-old")
    f1 = b.run("f", {"loss": 0.9}, parents=[a1], run_id="f1")  # forked from a1, later
    c2 = b.commit("main", {"README": "new base\n"}, message="base moves", parents=[c1])
    r1 = b.run("a", {"loss": 1.0}, parents=[c2], run_id="a1")  # exp/a rebased on c2
    r2 = b.run("a", {"loss": 0.8}, parents=[r1], run_id="a2")
    r3 = b.run("a", {"loss": 0.7}, parents=[r2], run_id="a3")
    b.run("a", {"loss": 0.6}, parents=[r3], run_id="a4", code={"train.py": "v2\n"})
    sha = b.write(tmp_path / "proj")

    def shown() -> list[tuple]:
        return [(r.run, r.previous, r.value(), r.metrics["loss"].delta, r.code_changes)
                for r in gitlog.history("loss", all=True, repo=tmp_path / "proj")]

    rows = shown()
    assert rows == [("a1", None, 1.0, None, None), ("a2", sha[a1], 0.8, -0.2, []),
                    ("a3", sha[a2], 0.7, -0.1, []), ("f1", sha[a1], 0.9, -0.1, []),
                    ("a4", sha[r3], 0.6, -0.1, ["train.py"])]
    assert sha[r3] not in {sha[a1], sha[a2], sha[a3], sha[f1]}

    class Unrelated:  # a count that does not match the walk: nothing is dropped
        def __init__(self, *args: object, **kwargs: object) -> None: ...
        def __iter__(self) -> object: return iter([b"\0" * 9])
        def close(self) -> None: ...

    shutil.rmtree(tmp_path / "proj" / ".git" / "gitlog")
    monkeypatch.setattr(walk, "Children", Unrelated)
    assert shown() == rows
    # whether to count: by the objects in packs, read from the pack indexes
    git(tmp_path / "proj", "gc", "-q")
    counted = git(tmp_path / "proj", "count-objects", "-v")
    assert f"in-pack: {Repo(tmp_path / 'proj').packed_objects()}\n" in counted


def test_a_fork_after_a_commit_that_is_no_run(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two branches forked from a commit that is no run both compare with the run before
    it, children counted or not (``git rev-list --children`` counted one child there, the
    commit that is no run, so the entry was dropped after the first branch)."""
    from gitlog import historyrows

    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"}, message="initial code")
    a1 = b.run("a", {"loss": 1.0}, parents=[c1], run_id="a1")
    n1 = b.commit("exp/a", {"other.py": "x\n"}, message="code, no run", parents=[a1])
    b.run("a", {"loss": 0.8}, parents=[n1], run_id="a2")
    b.run("b", {"loss": 0.7}, parents=[n1], run_id="b1")
    sha = b.write(tmp_path / "proj")
    for counting in (True, False):
        monkeypatch.setattr(historyrows, "COUNT_CHILDREN_FROM", 0 if counting else 10**9)
        shutil.rmtree(tmp_path / "proj" / ".git" / "gitlog", ignore_errors=True)
        rows = [(r.run, r.previous, r.metrics["loss"].delta, r.code_changes)
                for r in gitlog.history("loss", all=True, repo=tmp_path / "proj")]
        assert sorted(rows, key=str) == [("a1", None, None, None),
                                         ("a2", sha[a1], -0.2, ["other.py"]),
                                         ("b1", sha[a1], -0.3, ["other.py"])], counting


def test_counting_children_gives_the_same_rows_across_merges(
        twoexp: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    """Merges into main, walked along all parents or first parents only: the rows are
    the same whether linking entries are dropped as children are counted or kept."""
    from gitlog import historyrows

    repo, c = twoexp
    git(repo, "merge", "-q", "--no-ff", "-m", "take a", "exp/a")
    git(repo, "merge", "-q", "--no-ff", "-X", "theirs", "-m", "take b", "exp/b")

    def shown(counting: bool, **options: object) -> list[tuple]:
        monkeypatch.setattr(historyrows, "COUNT_CHILDREN_FROM", 0 if counting else 10**9)
        shutil.rmtree(repo / ".git" / "gitlog", ignore_errors=True)
        return [(r.commit, r.previous, r.value(), r.metrics["loss"].delta, r.code_changes)
                for r in gitlog.history("loss", repo=repo, **options)]

    for options in ({}, {"first_parent": True}, {"all": True}):
        assert shown(True, **options) == shown(False, **options), options
    assert [r[0] for r in shown(True)] == [c[k] for k in ("a1", "b1", "a2", "b2", "a3", "a4")]


def test_rebased_and_force_pushed_branch(twoexp: tuple[Path, dict], tmp_path: Path) -> None:
    repo, c = twoexp
    before = history_json(repo, "-m", "loss", "a")
    git(repo, "checkout", "-q", "main")
    (repo / "README").write_text("new base\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "base moves")
    git(repo, "rebase", "-q", "main", "exp/a")
    after = history_json(repo, "-m", "loss", "a")
    new = git(repo, "rev-list", "--reverse", "main..exp/a").split()
    assert [r["commit"] for r in after] == [s[:10] for s in new]
    strip = [{k: v for k, v in r.items() if k not in ("commit", "date")} for r in after]
    assert strip == [{k: v for k, v in r.items() if k not in ("commit", "date")}
                     for r in before]
    # force-push the old branch back: the cache follows the ref, not what it saw before
    git(repo, "update-ref", "refs/heads/exp/a", c["a4"])
    assert history_json(repo, "-m", "loss", "a") == before


def test_an_amended_run_after_git_gc_with_the_cache_warm(twoexp: tuple[Path, dict]) -> None:
    """The cache remembers the tips it walked; once an amend or a rebase left one
    unreachable and git gc pruned it, the next query walks again (it failed: 'bad object')."""
    repo, c = twoexp
    assert len(history_json(repo, "-m", "loss", "a")) == 4
    date = f"{BASE + 60 * 8} +0000"
    when = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    amended = git(repo, "commit-tree", f"{c['a4']}^{{tree}}", "-p", c["a3"], "-m",
                  "a: tuned, amended", env=when).strip()
    git(repo, "update-ref", "refs/heads/exp/a", amended)
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    assert git(repo, "cat-file", "-t", c["a4"], check=False) == ""  # pruned
    assert history_json(repo, "-m", "loss", "a") == [
        row(c["a1"], 2, "a", "a: first", 1.0),
        row(c["a2"], 4, "a", "a: new model", 0.8, -0.2, -20.0, "better",
            ["model.py", "train.py"]),
        row(c["a3"], 6, "a", "a: no loss", None, None, None, None, []),
        row(amended, 8, "a", "a: tuned, amended", 0.6, -0.2, -25.0, "better", ["train.py"])]


def test_shallow_clone_says_what_is_missing(twoexp: tuple[Path, dict], tmp_path: Path) -> None:
    repo, c = twoexp
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", "--branch", "exp/a",
                    f"file://{repo}", str(clone)], check=True)
    proc = run_cli("history", "-m", "loss", "--format", "json", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["commit"] for r in rows] == [c["a3"][:10], c["a4"][:10]]
    assert rows[1]["loss_delta"] is None  # a3 lacks loss; a2 is beyond the boundary
    assert "shallow clone" in proc.stderr and "git fetch --unshallow" in proc.stderr
    for query in (["best", "-m", "loss"], ["blame", "-m", "loss"]):  # they say it too
        proc = run_cli(*query, cwd=clone)
        assert proc.returncode == 0 and "git fetch --unshallow" in proc.stderr, query
    # a revision beyond the boundary is said to be, not 'unknown'; a typo is not
    for query in (["history", "-m", "loss", "exp/a~3"], ["compare", "exp/a~3", "exp/a"],
                  ["show", c["a1"][:10]]):
        proc = run_cli(*query, cwd=clone)
        assert proc.returncode == 1 and proc.stdout == "", query
        rev = query[-2] if query[0] == "compare" else query[-1]
        assert proc.stderr.splitlines()[-1] == (
            f"hint: this is a shallow clone: {rev} may be older than its history "
            "(git fetch --unshallow brings the rest)"), query
    proc = run_cli("history", "-m", "loss", "exp/nosuch", cwd=clone)
    assert proc.returncode == 1 and "shallow" not in proc.stderr
    # a CI checkout (main alone, depth 1) holds no run: the hint was "log one"
    ci = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(ci)],
                   check=True)
    for query in (["history", "-m", "loss"], ["best", "-m", "loss"], ["blame", "-m", "loss"]):
        proc = run_cli(*query, cwd=ci)
        assert (proc.returncode, proc.stderr) == (1, (
            "Error: no runs found in any experiment\nhint: this is a shallow clone: its runs "
            "may be on experiment branches it did not fetch (gitlog pull --all) or older than "
            "its history (git fetch --unshallow)\n")), query


def test_shallow_clone_says_a_missing_metric_may_be_beyond_its_history(
        twoexp: tuple[Path, dict], tmp_path: Path) -> None:
    """In a shallow clone, 'history/best/blame -m nosuch' said no run has it, without the
    note the other errors there give: the runs beyond the cut may have it."""
    repo, _ = twoexp
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", "--branch", "exp/a",
                    f"file://{repo}", str(clone)], check=True)
    note = "; this is a shallow clone: runs older than its history may have it " \
        "(git fetch --unshallow brings them)\n"
    for query in (["history", "-m", "f1"], ["best", "-m", "f1"], ["blame", "-m", "f1"]):
        proc = run_cli(*query, cwd=clone)
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            1, "", "Error: no run has the metric f1\nhint: metrics in these runs: accuracy, "
                   "loss" + note), query
    proc = run_cli("history", "-m", "loss", "--step", "3", cwd=clone)
    assert (proc.returncode, proc.stderr) == (
        1, "Error: no run logged loss at step 3\nhint: leave out --step for the value in "
           "metrics.json, or take --step last" + note)
    proc = run_cli("history", "-m", "f1", cwd=repo)  # a full clone: no such note
    assert (proc.returncode, proc.stderr) == (
        1, "Error: no run has the metric f1\nhint: metrics in these runs: accuracy, loss\n")


def test_a_graft_is_seen_by_a_warm_cache_too(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    before = history_json(repo, "-m", "loss", "a")  # stored in the cache
    git(repo, "replace", "--graft", c["a4"], c["a1"])  # a4 now follows a1: a2, a3 hidden
    rows = [row(c["a1"], 2, "a", "a: first", 1.0),
            row(c["a4"], 7, "a", "a: tuned", 0.6, -0.4, -40.0, "better",
                ["model.py", "train.py"])]
    assert history_json(repo, "-m", "loss", "a") == rows
    git(repo, "pack-refs", "--all")  # a packed replace ref reads the same
    assert history_json(repo, "-m", "loss", "a") == rows
    git(repo, "replace", "-d", c["a4"])
    assert history_json(repo, "-m", "loss", "a") == before


def test_a_cache_rebuilt_while_history_reads_it_still_gives_the_rows(
        twoexp: tuple[Path, dict]) -> None:
    from gitlog.historyquery import query_history

    repo, c = twoexp
    for revs, runs in ((["a"], ["a1", "a2", "a3", "a4"]), (["exp/a..b"], ["b1", "b2"])):
        cold = query_history(["loss"], revs, repo=repo)
        expected = list(cold.kept)
        assert [line.split("\x1f", 1)[0] for line in expected] == [c[r] for r in runs]
        warm = query_history(["loss"], revs, repo=repo)  # read from the cache...
        with sqlite3.connect(repo / ".git" / "gitlog" / "index.sqlite") as db:
            db.execute("DELETE FROM columns")  # ...which another process rebuilds or evicts
        assert list(warm.kept) == expected  # walked again, not "the query cache changed"
        assert list(warm.kept) == expected


def test_malformed_metrics_warned_with_commit_and_skipped(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("m", {"loss": 1.0}, parents=[c1], run_id="r1")
    r2 = b.run("m", '{"loss": 0.5,', parents=[r1], run_id="r2")
    r3 = b.run("m", {"loss": 0.25}, parents=[r2], run_id="r3")
    r4 = b.run("m", "[1, 2]", parents=[r3], run_id="r4")
    r5 = b.run("m", "null", parents=[r4], run_id="r5")  # was "a JSON NoneType"
    repo = tmp_path / "p"
    shas = b.write(repo)
    for _ in range(2):  # cold, then from the cache: same rows, same warnings
        proc = run_cli("history", "-m", "loss", "exp/m", "--format", "json", cwd=repo)
        assert proc.returncode == 0
        rows = json.loads(proc.stdout)
        assert [(r["commit"], r["loss"], r["loss_delta"]) for r in rows] == \
            [(shas[r1][:10], 1.0, None), (shas[r3][:10], 0.25, -0.75)]
        assert f"warning: commit {shas[r2][:10]}: .gitlog/metrics.json is not valid JSON" \
            in proc.stderr
        assert f"commit {shas[r4][:10]}: .gitlog/metrics.json holds a JSON array, not an " \
            "object; skipped" in proc.stderr
        assert f"commit {shas[r5][:10]}: .gitlog/metrics.json holds JSON null, not an " \
            "object; skipped" in proc.stderr
    for query in (["best", "-m", "loss"], ["blame", "-m", "loss", "exp/m"]):  # the same
        proc = run_cli(*query, cwd=repo)
        assert f"warning: commit {shas[r2][:10]}: .gitlog/metrics.json is not valid JSON" \
            in proc.stderr, query
    with warnings.catch_warnings(record=True) as caught:  # the API issues them
        warnings.simplefilter("always")
        gitlog.best("loss", repo=repo)
        gitlog.blame("loss", ["exp/m"], repo=repo)
    texts = [str(w.message) for w in caught if w.category is gitlog.GitlogWarning]
    # they began "commit ...": PYTHONWARNINGS=ignore:gitlog (README) did not hide them
    assert sum(t.startswith(f"gitlog: commit {shas[r2][:10]}: .gitlog/metrics.json is not "
                            "valid") for t in texts) == 2
    script = "import gitlog; gitlog.history('loss', 'exp/m'); print('done')"
    hidden = run_python(script, repo, env={"PYTHONWARNINGS": "ignore:gitlog"})
    assert (hidden.stdout, hidden.stderr) == ("done\n", "")
    shown = run_python(script, repo, env={"PYTHONWARNINGS": "default"}).stderr
    assert f"GitlogWarning: gitlog: commit {shas[r2][:10]}: .gitlog/metrics.json is not " \
        "valid JSON" in shown


def test_a_walk_whose_every_run_was_skipped_says_why(tmp_path: Path) -> None:
    """Runs whose metrics.json is not a JSON object are skipped with a warning; when no
    other run was left, the warning was lost and the error said "no runs found in w,
    log one"."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("w", '{"loss": ', parents=[c1])
    b.run("w", "[1]", parents=[r1])
    repo = tmp_path / "p"
    shas = b.write(repo)
    for query, where in ((["history", "-m", "loss", "w"], "w"), (["best", "-m", "loss"],
                         "any experiment"), (["blame", "-m", "loss", "w"], "w")):
        proc = run_cli(*query, cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", (
            f"Error: no runs found in {where}, 2 skipped: commit {shas[r1][:10]}: "
            ".gitlog/metrics.json is not valid JSON (Expecting value: line 1 column 10 "
            "(char 9)) (and 1 more)\nhint: a run's metrics.json holds a JSON object of "
            "metrics; gitlog show COMMIT shows the rest of that run\n")), query


def test_a_diverged_run_shows_nan_and_counts_as_worse(tmp_path: Path) -> None:
    """A run whose loss is nan or infinite shows that value, worse, with no delta; it is
    a regression; the next run compares with the last finite value. Nested names and
    steps alike."""
    b = Builder()
    parent = b.commit("main", {"train.py": "x\n"})
    for k, loss in enumerate([1.0, float("nan"), 0.5, float("inf"), 0.4]):
        parent = b.run("d", {"loss": loss, "eval": {"loss": loss}}, parents=[parent],
                       run_id=f"d{k}", series={"loss": [(0, 9.0), (1, loss)]})
    repo = tmp_path / "p"
    b.write(repo)
    expected = [(1.0, None, None), ("nan", None, "worse"), (0.5, -0.5, "better"),
                ("inf", None, "worse"), (0.4, -0.1, "better")]
    for name, step in (("loss", None), ("eval/loss", None), ("loss", "last")):
        args = ["-m", name, "exp/d"] + (["--step", step] if step else [])
        rows = history_json(repo, *args)
        assert [(r[name], r[f"{name}_delta"], r[f"{name}_verdict"]) for r in rows] == \
            expected, (name, step)
        worse = history_json(repo, *args, "--regressions")
        assert [r[name] for r in worse] == ["nan", "inf"]
    table = run_cli("history", "-m", "loss", "exp/d", cwd=repo).stdout
    shown = {line.split(" d: run ")[1].split()[0]: line.split(" d: run ")[1].split()[1:]
             for line in table.splitlines() if " d: run " in line}
    assert shown["d1"] == ["nan", "worse"] and shown["d2"] == ["0.5", "-0.5", "-50%", "better"]
    # compare says the same: a nan is worse with no delta; against a nan there is none
    for runs, expected_change in ((["d0", "d1", "d2"], [(None, "worse"), (-0.5, "better")]),
                                  (["d1", "d2"], [(None, None)])):
        row = gitlog.compare(runs, repo=repo).section("metrics")[0]
        assert list(zip(row.deltas, row.verdicts, strict=True)) == expected_change


def test_values_at_the_edge_of_a_float(tmp_path: Path) -> None:
    """1e308 then -1e308 (their difference overflows), an int too large for a float
    (read as infinite): every format and query answers, with no finite % where there is
    none."""
    b = Builder()
    parent = b.commit("main", {"train.py": "x\n"})
    for k, text in enumerate(["1e308", "-1e308", "1" + "0" * 400, "5"]):
        parent = b.run("w", f'{{"loss": {text}}}\n', parents=[parent], run_id=f"w{k}",
                       code={"train.py": f"{k}\n"})
    repo = tmp_path / "p"
    b.write(repo)
    rows = history_json(repo, "-m", "loss", "exp/w")
    assert [(r["loss"], r["loss_delta"], r["loss_pct"], r["loss_verdict"]) for r in rows] == [
        (1e308, None, None, None), (-1e308, "-inf", None, "better"),
        ("inf", None, None, "worse"), (5, 1e308, 100.0, "worse")]
    for query in (["history", "-m", "loss", "exp/w"], ["blame", "-m", "loss", "exp/w"],
                  ["best", "-m", "loss"]):
        proc = run_cli(*query, cwd=repo)
        assert proc.returncode == 0, (query, proc.stderr)


def test_a_metric_named_as_a_column_is_refused_with_the_fix(tmp_path: Path) -> None:
    """A metric called 'date' (or 'loss_delta' next to 'loss') would overwrite a column:
    refused, with the alias that shows it under another name."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    b.run("c", {"date": 3, "loss": 1.0, "loss_delta": 7}, parents=[c1])
    repo = tmp_path / "p"
    b.write(repo)
    for metrics, name in (("date,loss", "date"), ("loss,loss_delta", "loss_delta")):
        proc = run_cli("history", "-m", metrics, "exp/c", "--format", "json", cwd=repo)
        assert proc.returncode == 1 and proc.stdout == ""
        assert f"Error: the metric {name} has the name of another column" in proc.stderr
        assert f"({{my_{name}: [{name}]}}), then -m my_{name}" in proc.stderr
    (repo / ".gitlog.yaml").write_text("metrics:\n  aliases: {run_date: [date]}\n")
    assert [r["run_date"] for r in history_json(repo, "-m", "run_date,loss", "exp/c")] == [3]


def test_a_metric_named_as_a_rows_field_is_refused_in_every_format_and_the_api(
        tmp_path: Path) -> None:
    """A metric called 'run', 'status', 'author' or 'previous' was shown by history (those
    fields are not among its columns) while HistoryRow.record() wrote the run's own field
    over it (and a metric 'commit' over the commit); ls wrote a key metric 'status' over
    the run's status. Refused the same everywhere, with the alias that shows it."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("c", {"loss": 1.0, "run": 7, "status": 3, "author": 2, "previous": 5,
                     "commit": 9}, parents=[c1])
    repo = tmp_path / "p"
    sha = b.write(repo)
    for name in ("run", "status", "author", "previous", "commit"):
        error = f"the metric {name} has the name of another column of the output"
        hint = (f"show it under another name: metrics.aliases in .gitlog.yaml "
                f"({{my_{name}: [{name}]}}), then -m my_{name}")
        for fmt in ("table", "json", "csv", "markdown"):
            proc = run_cli("history", "-m", f"loss,{name}", "exp/c", "--format", fmt, cwd=repo)
            assert (proc.returncode, proc.stdout, proc.stderr) == (
                1, "", f"Error: {error}\nhint: {hint}\n"), (name, fmt)
        with pytest.raises(gitlog.GitlogError) as raised:
            gitlog.history(["loss", name], "exp/c", repo=repo)
        assert (str(raised.value), raised.value.hint) == (error, hint)
    (repo / ".gitlog.yaml").write_text("metrics:\n  key: [loss, status]\n")
    proc = run_cli("ls", "--format", "json", cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Error: the metric status has the name of another column of the "
                           "output\nhint: show it under another name: metrics.aliases in "
                           ".gitlog.yaml ({my_status: [status]}), then put my_status in "
                           "metrics.key\n")
    (repo / ".gitlog.yaml").write_text("metrics:\n  key: [loss, run_status]\n"
                                       "  aliases: {run_status: [status], run_no: [run]}\n")
    [row] = gitlog.history("loss,run_no", "exp/c", repo=repo)
    record = row.record()
    assert (record["run_no"], record["run"], record["commit"]) == (7, "run-c-2", sha[r1])
    [listed] = json.loads(run_cli("ls", "--format", "json", cwd=repo).stdout)
    assert (listed["status"], listed["run_status"]) == ("completed", 3)


def test_aliases_and_better_from_config(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n", ".gitlog.yaml":
                           "metrics:\n  aliases: {loss: [train/loss, train_loss]}\n"
                           "  better: {score: lower}\n"})
    r1 = b.run("r", {"train_loss": 1.0, "score": 3}, parents=[c1])
    r2 = b.run("r", {"train": {"loss": 0.5}, "score": 4}, parents=[r1])
    r3 = b.run("r", {"loss": 0.4, "score": 2}, parents=[r2])
    repo = tmp_path / "p"
    b.write(repo)
    rows = history_json(repo, "-m", "loss", "-m", "score", "exp/r")
    assert [(r["loss"], r["loss_delta"], r["score"], r["score_verdict"]) for r in rows] == [
        (1.0, None, 3, None), (0.5, -0.5, 4, "worse"), (0.4, -0.1, 2, "better")]
    assert [r["train_loss"] for r in history_json(repo, "-m", "train_loss", "exp/r")] == \
        [1.0, 0.5, 0.4]
    assert r3


def test_a_metric_every_run_has_as_nan_is_named_as_logged(tmp_path: Path) -> None:
    """The hint for a missing metric left out metrics whose every value was nan ("these
    runs logged no metrics"), and best said a metric no run had finite was not logged."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    b.run("r", '{"loss": NaN, "eval": {"f1": Infinity}}', parents=[c1])
    repo = tmp_path / "p"
    b.write(repo)
    for command in ("history", "best", "blame"):
        where = [] if command == "best" else ["--all"]
        proc = run_cli(command, "-m", "lss", *where, cwd=repo)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.splitlines()[-2:] == [
            "Error: no run has the metric lss", "hint: metrics in these runs: eval/f1, loss"]
    proc = run_cli("best", "-m", "eval/f1", cwd=repo)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "Error: no run has a finite eval/f1: every run that logged it diverged (nan or "
        "infinite), and best ranks none of those",
        "hint: see them with: gitlog history -m eval/f1 --all"]


def test_the_sparkline_of_one_run_and_of_no_finite_value(tmp_path: Path) -> None:
    """'over 1 runs' read wrong; a metric with no finite value has no sparkline, and the
    table then started with a blank line."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    b.run("one", {"loss": 0.25}, parents=[c1], run_id="o1")
    b.run("nan", '{"loss": NaN}', parents=[c1], run_id="n1")
    repo = tmp_path / "p"
    b.write(repo)
    one = run_cli("history", "-m", "loss", "one", cwd=repo).stdout.splitlines()
    assert one[:2] == ["loss  \u2584  0.25 -> 0.25 over 1 run (lower is better)", ""]
    assert one[2].startswith("commit  ") and len(one) == 5
    diverged = run_cli("history", "-m", "loss", "nan", cwd=repo).stdout.splitlines()
    assert diverged[0].startswith("commit  ") and len(diverged) == 3
    assert diverged[2].split()[-1] == "nan"


def test_the_names_of_one_series_share_which_way_is_better(tmp_path: Path) -> None:
    """metrics.better set for one name of a series holds for its aliases: asking -m ppl
    (an alias of perplexity, configured lower) judged it higher-is-better, so history's
    verdicts and best's order flipped with the name asked."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n", ".gitlog.yaml":
                           "metrics:\n  aliases: {perplexity: [ppl], loss: [objective]}\n"
                           "  better: {perplexity: lower}\n"})
    r1 = b.run("r", {"ppl": 30, "objective": 2.0}, parents=[c1])
    r2 = b.run("r", {"ppl": 20, "objective": 1.0}, parents=[r1])
    repo = tmp_path / "p"
    sha = b.write(repo)
    for name in ("perplexity", "ppl"):
        rows = history_json(repo, "-m", name, "exp/r")
        assert [(r[name], r[f"{name}_verdict"]) for r in rows] == [(30, None), (20, "better")]
        proc = run_cli("best", "-m", name, "-n", "1", "--format", "json", cwd=repo)
        assert [r["commit"] for r in json.loads(proc.stdout)] == [sha[r2][:10]]
    # loss-like by its canonical name: the alias is lower-is-better too
    assert [r["objective_verdict"] for r in history_json(repo, "-m", "objective", "exp/r")] \
        == [None, "better"]


def test_every_metric_query_names_a_missing_or_empty_metric_alike(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    b.run("r", {"loss": 0.5, "accuracy": 0.8, "step": 9}, parents=[c1])
    repo = tmp_path / "p"
    b.write(repo)
    for command in ("history", "best", "blame"):  # (best looks at every experiment)
        where = [] if command == "best" else ["--all"]
        proc = run_cli(command, "-m", "lss", *where, cwd=repo)
        assert proc.returncode == 1 and proc.stdout == ""
        # step, the number of the last step, is no metric to suggest
        assert proc.stderr.splitlines()[-2:] == [
            "Error: no run has the metric lss", "hint: metrics in these runs: accuracy, loss"]
        proc = run_cli(command, "-m", "", *where, cwd=repo)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.splitlines()[-2:] == ["Error: no metric given",
                                                 "hint: name one: --metric loss"]


def test_without_metric_history_shows_the_key_metrics_the_runs_have(tmp_path: Path) -> None:
    # metrics.key defaults to [loss, accuracy]: runs that log only loss got
    # "Error: no run has the metric accuracy" for a metric nobody asked for
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("r", {"loss": 0.5, "f1": 0.2}, parents=[c1])
    r2 = b.run("r", {"loss": 0.4, "f1": 0.3}, parents=[r1])
    repo = tmp_path / "p"
    sha = b.write(repo)
    proc = run_cli("history", "--all", "--format", "csv", cwd=repo)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == [
        "commit,date,experiment,subject,loss,loss_delta,loss_pct,loss_verdict,code_changes",
        f"{sha[r1][:10]},{iso(r1)},r,r: run run-r-2,0.5,,,,",
        f"{sha[r2][:10]},{iso(r2)},r,r: run run-r-3,0.4,-0.1,-20.0,better,[]"]
    table = run_cli("history", "--all", cwd=repo)
    assert table.returncode == 0 and table.stdout.startswith("loss  █▁  0.5 -> 0.4")
    assert [list(r.metrics) for r in gitlog.history(all=True, repo=repo)] == [["loss"]] * 2
    asked = run_cli("history", "-m", "loss,accuracy", "--all", cwd=repo)  # asked by name
    assert asked.returncode == 1 and "Error: no run has the metric accuracy" in asked.stderr
    (repo / ".gitlog.yaml").write_text("metrics:\n  key: [accuracy, auc]\n")
    none = run_cli("history", "--all", cwd=repo)  # none of the key metrics: say so
    assert (none.returncode, none.stdout) == (1, "")
    assert none.stderr == ("Error: no run has the metrics accuracy, auc\n"
                           "hint: metrics in these runs: f1, loss\n")


def test_tables_show_control_characters_written_out(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    subject = "make \x1b[31mred\x1b[0m\rnow"  # would recolour the terminal, overwrite the row
    r1 = b.run("r", {"loss": 0.5}, parents=[c1], subject=subject)
    b.run("r", {"loss": 0.4}, parents=[r1], subject=subject,
          code={"train.py": "print('\x1b[2J')\n\tx = 1\n"})  # clears the screen
    repo = tmp_path / "p"
    b.write(repo)
    shown = "make \\x1b[31mred\\x1b[0m now"
    patch = run_cli("blame", "-m", "loss", "--all", "-p", cwd=repo)
    assert patch.returncode == 0, patch.stderr
    assert "+print('\\x1b[2J')\n+\tx = 1" in patch.stdout  # a diff keeps its tabs
    assert "=== " in patch.stdout and "\x1b" not in patch.stdout and "\r" not in patch.stdout
    for args in (["history", "-m", "loss", "--all"], ["best", "-m", "loss"], ["show", "r"],
                 ["compare", "r~1", "r"]):  # compare's heading line wrote the subject raw
        for fmt in ("table", "markdown") if args[0] != "show" else ("table",):
            proc = run_cli(*args, "--format", fmt, cwd=repo)
            assert proc.returncode == 0 and shown in proc.stdout, proc.stdout
            assert "\x1b" not in proc.stdout and "\r" not in proc.stdout
    assert history_json(repo, "-m", "loss", "--all")[0]["subject"] == subject  # data as is


def test_workspace_runs_without_trailers(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    w1 = b.run("ws", {"loss": 0.7}, parents=[c1], trailers=False, subject="try dropout")
    w2 = b.run("ws", {"loss": 0.6}, parents=[w1], trailers=False, subject="more dropout",
               code={"train.py": "y\n"})
    n1 = b.run("ws", {"loss": 0.65}, parents=[w2], trailers=False, run_yaml=False,
               subject="metrics only")
    code_only = b.commit("exp/ws", {"train.py": "z\n"}, parents=[n1], message="code only")
    repo = tmp_path / "p"
    shas = b.write(repo)
    git(repo, "checkout", "-q", "exp/ws")
    rows = history_json(repo, "-m", "loss")
    assert [(r["commit"], r["experiment"], r["loss"], r["code_changes"]) for r in rows] == [
        (shas[w1][:10], "ws", 0.7, None), (shas[w2][:10], "ws", 0.6, ["train.py"]),
        (shas[n1][:10], "ws", 0.65, [])]
    assert code_only


def test_errors_name_the_problem_and_the_fix(twoexp: tuple[Path, dict]) -> None:
    repo, _ = twoexp
    proc = run_cli("history", "-m", "lsos", "--all", cwd=repo)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Error: no run has the metric lsos" in proc.stderr
    assert "hint: metrics in these runs: accuracy, loss" in proc.stderr
    proc = run_cli("history", "-m", "loss,lsos", "--all", cwd=repo)  # one of several
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Error: no run has the metric lsos" in proc.stderr
    proc = run_cli("history", "-m", "loss", "nosuch", cwd=repo)
    assert proc.returncode == 1 and "unknown revision or experiment: nosuch" in proc.stderr
    for bad in ("lots", "-1", "nan", "inf"):
        proc = run_cli("history", "-m", "loss", "--all", f"--regressions={bad}", cwd=repo)
        assert proc.returncode == 1 and f"bad regression threshold '{bad}'" in proc.stderr
    # a revision after --regressions is read as its threshold: the hint says what to write
    proc = run_cli("history", "-m", "loss", "--regressions", "exp/a", cwd=repo)
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        "Error: bad regression threshold 'exp/a'",
        "hint: give a number of 0 or more (0.05) or a percentage (5%); to list the "
        "regressions of exp/a, name it first: gitlog history exp/a --regressions"]
    for n in (-1, 0):
        with pytest.raises(gitlog.GitlogError,  # (the API names its argument n=)
                           match=f"^history: n must be a whole number of 1 or more, got "
                                 f"int {n}\n"):
            gitlog.history("loss", all=True, repo=repo, n=n)
    for count in ("0", "00"):  # as best says it: a usage error
        proc = run_cli("history", "-m", "loss", "--all", "-n", count, cwd=repo)
        assert proc.returncode == 2 and "0 is not in the range x>=1" in proc.stderr
    for empty_metric in ("", " , "):
        proc = run_cli("history", "-m", empty_metric, "--all", cwd=repo)
        assert proc.returncode == 1 and proc.stdout == ""
        assert "Error: no metric given" in proc.stderr
    empty = tmp = repo.parent / "empty"
    subprocess.run(["git", "init", "-q", str(tmp)], check=True)
    proc = run_cli("history", "-m", "loss", cwd=empty)
    assert proc.returncode == 1 and "no runs found" in proc.stderr
    assert "hint: log one: gitlog run -e NAME -- python train.py" in proc.stderr


def test_cache_is_filled_reused_and_survives_corruption(twoexp: tuple[Path, dict]) -> None:
    repo, _ = twoexp
    cold = history_json(repo, "-m", "loss", "--all")
    db = repo / ".git" / "gitlog" / "index.sqlite"
    assert db.exists()
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(DISTINCT commit_id) FROM commits").fetchone()[0] == 6
    con.close()
    assert history_json(repo, "-m", "loss", "--all") == cold
    db.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    assert history_json(repo, "-m", "loss", "--all") == cold
    proc = run_cli("index", "--rebuild", cwd=repo)
    assert proc.returncode == 0 and proc.stdout == ""
    assert "rebuilt" in proc.stderr and "6 runs reachable" in proc.stderr
    assert history_json(repo, "-m", "loss", "--all") == cold


def test_first_parent_rows_after_a_branch_moved_back(tmp_path: Path) -> None:
    """A first-parent walk is walked whole after its branches moved: main's merge of a
    run no longer shows once main is reset before it, though the experiment's newest run
    still reaches it as a second parent."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    a1 = b.run("a", {"loss": 5.0}, parents=[c1], run_id="a1")
    b1 = b.run("b", {"loss": 1.0}, parents=[c1], run_id="b1", branch="side")
    m1 = b.commit("main", {".gitlog/metrics.json": '{"loss": 1.0}\n'},  # takes b1's
                  message="merge side", parents=[c1, b1])
    a2 = b.run("a", {"loss": 2.0}, parents=[a1, m1], run_id="a2")
    repo = tmp_path / "p"
    sha = b.write(repo)
    git(repo, "branch", "-D", "side")

    def runs() -> list[str]:
        return [r["commit"] for r in history_json(repo, "-m", "loss", "--all",
                                                  "--first-parent")]

    assert runs() == [sha[a1][:10], sha[m1][:10], sha[a2][:10]]
    git(repo, "update-ref", "refs/heads/main", sha[c1])  # main moves back past the merge
    assert runs() == [sha[a1][:10], sha[a2][:10]]


def test_rows_being_read_are_kept_while_other_queries_fill_the_cache(
        twoexp: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache keeps the walks used last; one used within the last minutes is kept
    too, so a query still reading its stored rows gets them all, however many other
    queries store theirs meanwhile."""
    from gitlog import index, rowstore
    from gitlog.historyquery import query_history

    repo, c = twoexp
    monkeypatch.setattr(index, "KEEP_WALKS", 2)
    monkeypatch.setattr(rowstore, "CHUNK", 2)  # six runs: three pieces, read lazily
    expected = list(query_history(["loss"], all=True, repo=repo).kept)
    reading = query_history(["loss"], all=True, repo=repo).kept  # warm: read as iterated
    assert isinstance(reading.lines, rowstore.StoredLines)
    for rev in ("a1", "a2", "a3", "b1", "b2"):  # five other walks stored meanwhile
        query_history(["loss"], [c[rev]], repo=repo)
    assert list(reading) == expected


def test_a_locked_index_still_answers_and_says_so(twoexp: tuple[Path, dict]) -> None:
    """While another process holds the index's write lock, history answers from a walk,
    says on stderr that the answer was not cached, and gives up on the cache after one
    wait instead of waiting at every write."""
    repo, _ = twoexp
    expected = history_json(repo, "-m", "loss", "--all")
    shutil.rmtree(repo / ".git" / "gitlog")
    history_json(repo, "-m", "accuracy", "--all")  # the index exists, without loss's rows
    holder = sqlite3.connect(repo / ".git" / "gitlog" / "index.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        proc = run_cli("history", "-m", "loss", "--all", "--format", "json", cwd=repo)
    finally:
        holder.close()
    assert proc.returncode == 0 and json.loads(proc.stdout) == expected
    assert "the index is locked by another process: this answer was not cached" in \
        proc.stderr


def test_stored_rows_are_read_back_piece_by_piece_and_a_damaged_piece_is_not_trusted(
        twoexp: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    """A walk's rows are stored in pieces; a warm query reads them all back, and a piece
    that is missing or damaged makes it walk again rather than show wrong rows."""
    from gitlog import rowstore

    repo, _ = twoexp
    monkeypatch.setattr(rowstore, "CHUNK", 4)  # six runs: two pieces
    cold = [(r.commit, r.metrics["loss"].value) for r in gitlog.history("loss", all=True,
                                                                         repo=repo)]
    db = repo / ".git" / "gitlog" / "index.sqlite"
    con = sqlite3.connect(db)
    pieces = [(k, d) for k, d in con.execute("SELECT key, data FROM columns")
              if "rows" in k and not k.startswith("tip")]  # (not the note on the tips)
    assert sorted(len(data.split("\n")) for _, data in pieces) == [1, 2, 4]  # head + 4 + 2
    warm = [(r.commit, r.metrics["loss"].value) for r in gitlog.history("loss", all=True,
                                                                         repo=repo)]
    assert warm == cold
    last = max(pieces, key=lambda p: p[0])[0]
    con.execute("UPDATE columns SET data = 'garbage' WHERE key = ?", (last,))
    con.commit()
    con.close()
    again = [(r.commit, r.metrics["loss"].value) for r in gitlog.history("loss", all=True,
                                                                          repo=repo)]
    assert again == cold


def test_a_cold_walk_stores_each_piece_as_it_goes(twoexp: tuple[Path, dict],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold walk holds one piece of rows: each full piece, its code changes filled in,
    goes to the index as it is made, and the rows shown are read back from there. If the
    cache stops taking pieces midway, the walk holds the rows instead: the same rows."""
    from gitlog import rowline, rowstore
    from gitlog.historyquery import query_history

    repo, _ = twoexp
    index_dir = repo / ".git" / "gitlog"
    whole = query_history(["loss"], all=True, repo=repo)
    assert isinstance(whole.kept.lines, list)  # six runs: one piece, kept in hand
    expected = list(whole.kept)
    assert [rowline.Layout(1).record(x)[9] for x in expected] == \
        [None, None, ["model.py", "train.py"], [], [], ["train.py"]]

    shutil.rmtree(index_dir)
    monkeypatch.setattr(rowstore, "CHUNK", 2)  # code changes in the 2nd and 3rd piece
    cold = query_history(["loss"], all=True, repo=repo)
    assert isinstance(cold.kept.lines, rowstore.StoredLines)
    assert list(cold.kept) == expected

    shutil.rmtree(index_dir)
    write = rowstore.Pieces.write

    def refused_after_the_first(self: rowstore.Pieces, lines: list[str]) -> bool:
        if self.written:  # sqlite refuses every write from now on
            self.index.db.execute("PRAGMA query_only = ON")  # type: ignore[union-attr]
        return write(self, lines)

    monkeypatch.setattr(rowstore.Pieces, "write", refused_after_the_first)
    held = query_history(["loss"], all=True, repo=repo)
    assert isinstance(held.kept.lines, list) and list(held.kept) == expected


def add_run(repo: Path, experiment: str, run_id: str, loss: float, n: int,
            code: dict[str, str] | None = None) -> str:
    """Commit one more run on exp/<experiment> with git itself, dated as the n-th commit."""
    git(repo, "checkout", "-q", f"exp/{experiment}")
    for name, text in (code or {}).items():
        (repo / name).write_text(text)
    (repo / ".gitlog" / "run.yaml").write_text(f"id: {run_id}\nexperiment: {experiment}\n"
                                               "status: completed\n")
    (repo / ".gitlog" / "metrics.json").write_text(json.dumps({"loss": loss}) + "\n")
    git(repo, "add", "-A")
    when = f"{BASE + 60 * n} +0000"
    git(repo, "commit", "-q", "-m", f"{experiment}: {run_id}\n\nGitlog-Run: {run_id}\n"
        f"Gitlog-Experiment: {experiment}\n", env={"GIT_AUTHOR_DATE": when,
                                                   "GIT_COMMITTER_DATE": when})
    git(repo, "checkout", "-q", "main")
    return git(repo, "rev-parse", f"exp/{experiment}").strip()


def test_runs_added_since_the_last_walk_extend_its_rows(twoexp: tuple[Path, dict]) -> None:
    """After new runs on top of the branches, history adds them to the rows it stored
    instead of walking everything again, and shows exactly what a whole walk shows; a
    branch that moved elsewhere (a reset), or a run older than the stored ones (clock
    skew), makes it walk everything."""
    from gitlog.config import load
    from gitlog.git import Repo
    from gitlog.historyrows import MetricSpec, extend_rows, walk_rows
    from gitlog.index import Index
    from gitlog.runlog import resolve, targets, walk_base

    repo, c = twoexp
    history_json(repo, "-m", "loss", "--all")  # the walk to add to
    a5 = add_run(repo, "a", "a5", 0.5, 10, code={"train.py": "v4\n"})
    add_run(repo, "b", "b3", 1.1, 11)
    add_run(repo, "a", "a6", 0.55, 12)
    r = Repo(repo)
    config = load(r.root)
    tokens, resolved = targets(r, config, (), True)
    resolved = resolve(r, tokens, resolved)
    base = walk_base(r, config, tokens, False)
    specs = [MetricSpec("loss", ("loss",), True)]

    def extended() -> list[str] | None:
        with Index(r.gitlog_dir, config.log_dir) as index:
            rows = extend_rows(r, config, index, tokens, base + "\x1e" + resolved, specs,
                               (base, resolved))
        return None if rows is None else list(rows.lines)

    def whole() -> list[str]:
        with Index(r.gitlog_dir, config.log_dir, rebuild=True) as index:
            return list(walk_rows(r, config, index, tokens, "w", specs).lines)

    added = extended()
    assert added is not None and added == whole()
    rows = history_json(repo, "-m", "loss", "--all")
    assert [(x["experiment"], x["loss"], x["loss_delta"], x["code_changes"])
            for x in rows[-3:]] == [("a", 0.5, -0.1, ["train.py"]), ("b", 1.1, -0.1, []),
                                    ("a", 0.55, 0.05, [])]
    assert rows[-3]["commit"] == a5[:10]
    def after_rebuild() -> list[dict]:
        shutil.rmtree(repo / ".git" / "gitlog")
        return history_json(repo, "-m", "loss", "--all")

    # a branch reset elsewhere: not added to, walked again
    history_json(repo, "-m", "loss", "--all")
    git(repo, "update-ref", "refs/heads/exp/a", c["a4"])
    tokens, resolved = targets(r, config, (), True)
    resolved = resolve(r, tokens, resolved)
    assert extended() is None
    shown = history_json(repo, "-m", "loss", "--all")
    assert shown[-1]["experiment"] == "b" and shown == after_rebuild()
    # a new run dated before the stored ones: walked again
    add_run(repo, "b", "b4", 1.0, 5)
    tokens, resolved = targets(r, config, (), True)
    resolved = resolve(r, tokens, resolved)
    assert extended() is None
    shown = history_json(repo, "-m", "loss", "--all")
    assert [x["loss"] for x in shown if x["experiment"] == "b"] == [0.9, 1.2, 1.1, 1.0]
    assert shown == after_rebuild()


def test_runs_added_after_queries_of_other_metrics(twoexp: tuple[Path, dict]) -> None:
    """Each set of metrics adds to its own last walk: after queries of another metric
    and of two metrics, a new run's rows are what a whole walk gives."""
    repo, _ = twoexp
    queries = [("-m", "loss"), ("-m", "accuracy"), ("-m", "accuracy,loss")]
    for query in queries:
        history_json(repo, *query, "--all")
    add_run(repo, "a", "a5", 0.5, 20)
    for query in queries:
        added = history_json(repo, *query, "--all")
        shutil.rmtree(repo / ".git" / "gitlog")
        assert added == history_json(repo, *query, "--all"), query
    assert added[-1]["loss_delta"] == -0.1 and added[-1]["accuracy"] is None


@pytest.mark.parametrize("count_children", [True, False])
def test_an_extension_copies_the_stored_pieces_and_links_to_the_tips(
        twoexp: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch,
        count_children: bool) -> None:
    """Adding runs to stored rows holds none of them: their full pieces are copied in the
    index, the last one is taken up again, and the new runs link to the entries the last
    walk kept for its tips (known from the children counts, or from the parents met).
    The rows are those of a whole walk."""
    from gitlog import historyrows, rowstore

    repo, _ = twoexp
    monkeypatch.setattr(rowstore, "CHUNK", 4)  # six runs: one full piece and two lines
    monkeypatch.setattr(historyrows, "COUNT_CHILDREN_FROM", 0 if count_children else 10**9)
    walks: list[str] = []
    whole_walk = historyrows.walk_rows
    monkeypatch.setattr(historyrows, "walk_rows",
                        lambda *a, **k: walks.append("whole") or whole_walk(*a, **k))

    def shown(**options: object) -> list[tuple]:
        return [(r.commit, r.previous, r.value(), r.metrics["loss"].delta, r.code_changes)
                for r in gitlog.history("loss", all=True, repo=repo, **options)]

    before = shown()
    assert walks == ["whole"]
    add_run(repo, "a", "a5", 0.5, 10, code={"train.py": "v4\n"})
    add_run(repo, "b", "b3", 1.1, 11)
    added = shown()
    assert walks == ["whole"]  # added to, not walked again
    assert added[:6] == before
    assert [(r[2], r[3], r[4]) for r in added[6:]] == [(0.5, -0.1, ["train.py"]),
                                                       (1.1, -0.1, [])]
    shutil.rmtree(repo / ".git" / "gitlog")
    assert shown() == added
    assert walks == ["whole", "whole"]


def test_steps_of_runs_added_since_the_last_walk(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With --step, new runs are added to the stored rows of the same step (not to those
    of a query of another step): the same rows as a whole walk."""
    from gitlog import historyrows

    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("s", {"loss": 0.5}, parents=[c1], series={"loss": [(0, 0.9), (1, 0.4)]})
    b.run("s", {"loss": 0.3}, parents=[r1], series={"loss": [(0, 0.8), (1, 0.2)]})
    repo = tmp_path / "p"
    b.write(repo)
    walks: list[str] = []
    whole_walk = historyrows.walk_rows
    monkeypatch.setattr(historyrows, "walk_rows",
                        lambda *a, **k: walks.append("whole") or whole_walk(*a, **k))

    def shown(step: str = "min") -> list[tuple]:
        return [(r.value(), r.metrics["loss"].delta)
                for r in gitlog.history("loss", "exp/s", repo=repo, step=step)]

    assert shown() == [(0.4, None), (0.2, -0.2)]
    assert shown("max") == [(0.9, None), (0.8, -0.1)]  # the walk of these revisions last
    add_run(repo, "s", "s3", 0.25, 10,
            code={".gitlog/metrics/loss.tsv": "timestamp\tstep\tloss\n0.0\t0\t0.7\n"
                                              "0.0\t1\t0.1\n"})
    assert shown() == [(0.4, None), (0.2, -0.2), (0.1, -0.1)]
    assert walks == ["whole", "whole"]
    shutil.rmtree(repo / ".git" / "gitlog")
    assert shown() == [(0.4, None), (0.2, -0.2), (0.1, -0.1)]


def test_steps_after_a_rebased_copy_compare_with_the_copy(tmp_path: Path) -> None:
    """A run that follows a rebased copy (its original still reachable, so the copy shows
    no row) compares its step value with the copy's, in a whole walk and when added to
    stored rows."""
    def series(last: float) -> dict:
        return {"loss": [(0, last + 1), (1, last)]}

    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"}, message="initial code")
    a1 = b.run("a", {"loss": 1.0}, parents=[c1], run_id="a1", series=series(1.0))
    b.run("a", {"loss": 0.8}, parents=[a1], run_id="a2", branch="exp/a-old",
          series=series(0.8))
    c2 = b.commit("main", {"README": "new base\n"}, message="base moves", parents=[c1])
    r1 = b.run("a", {"loss": 1.0}, parents=[c2], run_id="a1", series=series(1.0))
    r2 = b.run("a", {"loss": 0.8}, parents=[r1], run_id="a2", series=series(0.8))
    b.run("a", {"loss": 0.6}, parents=[r2], run_id="a3", series=series(0.6))
    repo = tmp_path / "p"
    sha = b.write(repo)

    def shown() -> list[tuple]:
        return [(r.run, r.previous, r.value(), r.metrics["loss"].delta)
                for r in gitlog.history("loss", all=True, repo=repo, step="min")]

    assert shown() == [("a1", None, 1.0, None), ("a2", sha[a1], 0.8, -0.2),
                       ("a3", sha[r2], 0.6, -0.2)]
    add_run(repo, "a", "a4", 0.5, 20,
            code={".gitlog/metrics/loss.tsv": "timestamp\tstep\tloss\n0.0\t0\t1.5\n"
                                              "0.0\t1\t0.5\n"})
    assert shown()[-1][2:] == (0.5, -0.1)


def test_warm_rows_are_read_from_the_index_as_they_are_shown(
        twoexp: tuple[Path, dict]) -> None:
    """A warm query reads its rows back from the index each time it goes over them, so
    it holds none; if another process drops them meanwhile, it walks again for the rest,
    never showing a partial table."""
    from gitlog.timeline import query_history

    repo, _ = twoexp
    cold = query_history(["loss"], all=True, repo=repo)
    warm = query_history(["loss"], all=True, repo=repo)
    assert not isinstance(warm.kept, list) and len(warm.kept) == len(cold.kept) == 6
    assert list(warm.kept) == list(cold.kept) == list(warm.kept)  # read again, the same
    con = sqlite3.connect(repo / ".git" / "gitlog" / "index.sqlite")
    con.execute("DELETE FROM columns")  # what pruning old walks does
    con.commit()
    con.close()
    assert list(warm.kept) == list(cold.kept)


def test_index_says_when_it_cannot_write_the_cache(twoexp: tuple[Path, dict]) -> None:
    """Queries go on without a cache they cannot open; ``gitlog index``, whose job is to
    fill it, fails instead of saying it updated it."""
    repo, _ = twoexp
    cache = repo / ".git" / "gitlog" / "index.sqlite"
    cache.mkdir(parents=True)  # not a file sqlite can open
    proc = run_cli("index", cwd=repo)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"Error: could not write the query cache {cache}: unable to open database file",
        f"hint: make {cache.parent} writable, or remove {cache}"]
    assert len(history_json(repo, "-m", "loss", "--all")) == 6  # answered uncached
    cache.rmdir()
    proc = run_cli("index", cwd=repo)
    assert proc.returncode == 0 and proc.stderr.startswith(f"updated {cache}: 6 runs")


def test_history_and_the_other_queries_share_the_cache(twoexp: tuple[Path, dict]) -> None:
    """Facts already cached (by ``gitlog index``, another query, the post-commit step)
    are not written again, and history does not drop the runs another query stored for
    the same walk."""
    repo, _ = twoexp
    assert run_cli("index", cwd=repo).returncode == 0
    db = repo / ".git" / "gitlog" / "index.sqlite"

    def stored() -> tuple[int, int, list[str]]:
        con = sqlite3.connect(db)
        try:
            rows, ids = con.execute(
                "SELECT COUNT(*), COUNT(DISTINCT commit_id) FROM commits").fetchone()
            return rows, ids, [r for (r,) in con.execute("SELECT runs FROM walks")]
        finally:
            con.close()

    before = stored()
    assert before[0] == before[1] and all(before[2])  # the index stored its walk's runs
    history_json(repo, "-m", "loss", "--all")
    after = stored()
    assert after[0] == after[1] == before[1]  # no facts written twice
    assert after[2] == before[2]  # the runs of the walk are still there for best/blame


def test_python_api_returns_dataclasses(twoexp: tuple[Path, dict]) -> None:
    repo, c = twoexp
    rows = gitlog.history("loss", "b", repo=repo)
    assert [(r.commit, r.experiment, r.value(), r.metrics["loss"].verdict) for r in rows] == [
        (c["b1"], "b", 0.9, None), (c["b2"], "b", 1.2, "worse")]
    assert rows[1].previous == c["b1"] and rows[1].code_changes == []
    with pytest.warns(gitlog.GitlogWarning, match="main holds no runs"):
        assert len(gitlog.history(["loss", "accuracy"], repo=repo)) == 6


def test_runs_logged_by_gitlog_show_with_code_changes(repo: Path) -> None:
    for loss in (0.9, 0.7):
        with gitlog.start("real", repo=repo) as run:
            run.log_metric("loss", loss)
        (repo / "train.py").write_text(f"print({loss})\n")
        git(repo, "commit", "-qam", f"code after {loss}")
    rows = gitlog.history("loss", "real", repo=repo)
    assert [(r.value(), r.code_changes, r.metrics["loss"].delta) for r in rows] == [
        (0.9, None, None), (0.7, ["train.py"], -0.2)]
    db = repo / ".git" / "gitlog" / "index.sqlite"
    con = sqlite3.connect(db)  # the post-commit step cached both runs as they landed
    cached = {r for (r,) in con.execute("SELECT commit_id FROM commits")}
    assert {r.commit for r in rows} <= cached


def test_code_changes_across_code_commits_between_runs(tmp_path: Path) -> None:
    """The previous run is not always the first parent: code committed in between counts."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n", "dvc.yaml": "stages: {}\n"})
    r1 = b.run("w", {"loss": 0.5}, parents=[c1], run_id="r1")
    k1 = b.commit("exp/w", {"lib/model.py": "m\n"}, parents=[r1], message="model")
    k2 = b.commit("exp/w", {"train.py": "y\n", "dvc.yaml": "stages: {a: {}}\n"}, parents=[k1],
                  message="train")
    r2 = b.run("w", {"loss": 0.4}, parents=[k2], run_id="r2")
    r3 = b.run("w", {"loss": 0.3}, parents=[r2], run_id="r3", code={"README": "r\n"})
    repo = tmp_path / "p"
    shas = b.write(repo)
    for _ in range(2):  # cold, then from the cache
        rows = history_json(repo, "-m", "loss", "w")
        assert [(r["commit"], r["code_changes"]) for r in rows] == [
            (shas[r1][:10], None), (shas[r2][:10], ["lib/model.py", "train.py"]),
            (shas[r3][:10], ["README"])]


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_code_changes_with_odd_paths_and_either_object_format(tmp_path: Path,
                                                              object_format: str) -> None:
    """A run with the same code as the previous one shows no changes, whatever the size
    of object ids; paths holding a newline or a separator come back as they are, in
    every format and from the cache."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n", "dvc.yaml": "stages: {}\n"})
    r1 = b.run("w", {"loss": 0.5}, parents=[c1], run_id="r1")
    r2 = b.run("w", {"loss": 0.4}, parents=[r1], run_id="r2",
               code={"dvc.yaml": "stages: {a: {}}\n"})
    odd = ["line\nbreak.py", "unit\x1fsep.py"]
    r3 = b.run("w", {"loss": 0.3}, parents=[r2], run_id="r3", code=dict.fromkeys(odd, "v\n"))
    repo = tmp_path / "p"
    subprocess.run(["git", "init", "-q", f"--object-format={object_format}", str(repo)],
                   check=True)
    shas = b.write(repo)
    for _ in range(2):  # cold, then from the cache
        rows = history_json(repo, "-m", "loss", "w")
        assert [(r["commit"], r["code_changes"]) for r in rows] == [
            (shas[r1][:10], None), (shas[r2][:10], []), (shas[r3][:10], sorted(odd))]
        table = run_cli("history", "-m", "loss", "w", cwd=repo).stdout
        assert "line break.py" in table  # one table line a run
    assert len(shas[r1]) == (64 if object_format == "sha256" else 40)


@pytest.mark.parametrize("log_dir", [".gitlog", "ml/logs", "run logs"])
def test_a_log_folder_below_the_top_or_with_a_blank_in_its_name(tmp_path: Path,
                                                                log_dir: str) -> None:
    """Below the top, the code's identity is unknown (every pair is diffed); with a
    blank, metrics.json is read after the walk: the rows are the same either way, with
    and without trailers. A commit that deletes metrics.json and keeps the run.yaml
    before it holds no run."""
    b = Builder(log_dir=log_dir)
    c1 = b.commit("main", {"train.py": "x\n", ".gitlog.yaml": f"log_dir: {log_dir}\n"})
    r1 = b.run("w", {"loss": 0.5}, parents=[c1], run_id="r1")
    r2 = b.run("w", {"loss": 0.4}, parents=[r1], run_id="r2", trailers=False)
    r3 = b.run("w", {"loss": 0.3}, parents=[r2], run_id="r3", code={"train.py": "y\n"})
    gone = b.commit("exp/w", {f"{log_dir}/metrics.json": None}, parents=[r3],
                    message="drop the metrics")
    r4 = b.run("w", {"loss": 0.35}, parents=[gone], run_id="r4")
    repo = tmp_path / "p"
    shas = b.write(repo)
    for _ in range(2):  # cold, then from the cache
        rows = history_json(repo, "-m", "loss", "w")
        assert [(r["commit"], r["loss"], r["loss_delta"], r["code_changes"]) for r in rows] \
            == [(shas[r1][:10], 0.5, None, None), (shas[r2][:10], 0.4, -0.1, []),
                (shas[r3][:10], 0.3, -0.1, ["train.py"]),
                (shas[r4][:10], 0.35, 0.05, [])]
        assert shas[gone]


def test_a_run_dated_before_its_parent_still_follows_it(tmp_path: Path) -> None:
    """Clocks disagree: a run committed on a machine whose clock is behind still comes
    after the run it was made on, and is compared with it."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("w", {"loss": 0.5}, parents=[c1], run_id="r1")
    o1 = b.run("o", {"loss": 0.9}, parents=[c1], run_id="o1")
    r2 = b.run("w", {"loss": 0.4}, parents=[r1], run_id="r2", at=1)  # before c1, even
    repo = tmp_path / "p"
    shas = b.write(repo)
    rows = history_json(repo, "-m", "loss", "--all")
    order = [r["commit"] for r in rows]
    assert order.index(shas[r1][:10]) < order.index(shas[r2][:10])
    assert {r["commit"]: r["loss_delta"] for r in rows}[shas[r2][:10]] == -0.1
    assert shas[o1][:10] in order


def test_trailers_are_read_as_git_reads_them(tmp_path: Path) -> None:
    """Hand-written messages: only the last paragraph holds trailers (never the title)."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    messages = {
        "plain": "A run\n\nGitlog-Run: r-plain\nGitlog-Experiment: named\n",
        "folded": "Folded\n\nbody\n\nGitlog-Run: r-folded\nGitlog-Experiment: long\n"
                  "  name\nSigned-off-by: A <a@b>\n",
        "mixed": "Mixed\n\nGitlog-Run: r-mixed\nGitlog-Experiment: signed\nnot a trailer\n"
                 "Signed-off-by: A <a@b>\n",
        "prose": "Prose\n\nGitlog-Experiment: ignored\nthis paragraph is prose, not\n"
                 "trailers at all\n",
        "middle": "Middle\n\nGitlog-Experiment: ignored\n\nlast words\n",
        "title": "Gitlog-Experiment: ignored\n",
        "subject": "Two line\nsubject\n\nGitlog-Run: r-subject\n",
    }
    marks = {}
    parent = c1
    for name, message in messages.items():
        parent = marks[name] = b.commit(
            "exp/t", {".gitlog/metrics.json": json.dumps({"loss": len(marks)}),
                      ".gitlog/run.yaml": f"id: y-{name}\nexperiment: yaml-{name}\n"},
            parents=[parent], message=message)
    repo = tmp_path / "p"
    shas = b.write(repo)
    rows = {r.commit: r for r in gitlog.history("loss", "exp/t", repo=repo)}
    got = {name: (rows[shas[m]].run, rows[shas[m]].experiment, rows[shas[m]].subject)
           for name, m in marks.items()}
    assert got == {
        "plain": ("r-plain", "named", "A run"),
        "folded": ("r-folded", "long name", "Folded"),
        "mixed": ("r-mixed", "signed", "Mixed"),
        "prose": ("y-prose", "yaml-prose", "Prose"),
        "middle": ("y-middle", "yaml-middle", "Middle"),
        "title": ("y-title", "yaml-title", "Gitlog-Experiment: ignored"),
        "subject": ("r-subject", "t", "Two line subject"),
    }
    for name, m in marks.items():  # what git itself makes of each message
        run = git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly,unfold)",
                  shas[m]).strip()
        assert (run or f"y-{name}") == got[name][0]


def test_commit_dates_in_the_committers_zone(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("z", {"loss": 1.0}, parents=[c1])
    repo = tmp_path / "p"
    shas = b.write(repo)
    for zone in ("+0530", "-1100", "+0000"):
        git(repo, "checkout", "-q", "-B", f"exp/z{zone[1:3]}", shas[r1])
        (repo / ".gitlog" / "metrics.json").write_text(json.dumps({"loss": zone}))
        git(repo, "commit", "-qam", f"zone {zone}", env={
            "GIT_COMMITTER_DATE": f"1700000000 {zone}", "GIT_AUTHOR_DATE": "1700000000"})
    rows = history_json(repo, "-m", "loss", "--all")
    dates = {git(repo, "log", "-1", "--format=%cI", r["commit"]).strip() for r in rows}
    assert {r["date"] for r in rows} == dates and len(dates) == 4


def test_output_written_in_pieces_is_the_same_text() -> None:
    from gitlog.cli._output import iter_csv, iter_json, render
    from gitlog.cli._table import format_columns, iter_columns, iter_text_table

    odd = [None, True, 3, -0.0, 1e-7, float("nan"), float("inf"), "é \"q\"\n\\", [],
           ["a.py", "b c.py"], {"k": [1]}]
    columns = ["n", "value", "other"]
    rows = [{"n": i, "value": odd[i % len(odd)], "other": odd[(i * 7) % len(odd)]}
            for i in range(2500)]
    for part in (rows, rows[:2000], rows[:1], []):
        assert "".join(iter_json(part, columns)) == render(part, "json", columns)
        flat = [{k: v for k, v in r.items() if not isinstance(v, dict)} for r in part]
        assert "".join(iter_csv(flat, columns, chunk=1000)) == render(flat, "csv", columns)
    cols = [("n", [r["n"] for r in rows], None), ("d", [0.5, -1.0, None] * 833 + [2.0], "delta"),
            ("s", ["wide 漢字", "x", None] * 833 + [""], None)]
    for fmt in ("table", "markdown"):
        assert "\n".join(iter_columns(cols, fmt, chunk=300)) == format_columns(cols, fmt)
    # cells written once as text (history's rows) lay out the same way
    texts = [(name, ["" if v is None else f"{v:+.6g}" if kind else str(v) for v in values],
              kind) for name, values, kind in cols]
    rows_of = list(zip(*(cells for _, cells, _ in texts), strict=True))
    for fmt in ("table", "markdown"):
        laid = "\n".join(iter_text_table(lambda: iter(rows_of), [c[0] for c in cols], [0, 1],
                                          fmt, chunk=300))
        assert laid == format_columns(cols, fmt)


def test_messages_that_are_not_utf8(tmp_path: Path) -> None:
    """Bytes from other encodings (trailers included) show as U+FFFD; nothing fails, cold
    or cached."""
    repo = tmp_path / "p"
    subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", str(repo)],
                   check=True)
    (repo / ".gitlog").mkdir()
    (repo / ".gitlog" / "metrics.json").write_text('{"loss": 1}')
    git(repo, "add", "-A")
    tree = git(repo, "write-tree").strip()
    body = (f"tree {tree}\nauthor Zo\xeb <z@e> 1700000000 +0000\n"
            "committer Zo\xeb <z@e> 1700000000 +0000\n\nsubj \xe9t\xe9\n\n"
            "Gitlog-Run: enc1\nGitlog-Experiment: \xe9\n").encode("latin-1")
    sha = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
                         cwd=repo, input=body, capture_output=True, check=True).stdout.strip()
    git(repo, "update-ref", "refs/heads/exp/enc", sha.decode())
    for _ in range(2):
        rows = history_json(repo, "-m", "loss", "--all")
        assert [(r["experiment"], r["subject"], r["loss"]) for r in rows] == \
            [("\ufffd", "subj \ufffdt\ufffd", 1)]



def test_float_noise_is_no_change(tmp_path: Path) -> None:
    """0.1 + 0.2 logged, then 0.3: the same value, not a better one by 5.6e-17."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("w", {"loss": 0.1 + 0.2}, parents=[c1])
    r2 = b.run("w", {"loss": 0.3}, parents=[r1])
    b.run("w", {"loss": 0.35}, parents=[r2])
    repo = tmp_path / "p"
    b.write(repo)
    rows = history_json(repo, "-m", "loss", "w")
    assert [(r["loss_delta"], r["loss_pct"], r["loss_verdict"]) for r in rows] == [
        (None, None, None), (0.0, 0.0, "same"), (0.05, 16.67, "worse")]


def test_two_ints_move_by_their_exact_difference(tmp_path: Path) -> None:
    """10**16 + 1 then 10**16 + 3 (a count of tokens) was 'same' with delta 0: the float
    noise rule (a move under a 10^12th) applied to ints, which have no float error."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("w", {"errors": 10**16 + 1}, parents=[c1])
    b.run("w", {"errors": 10**16 + 3}, parents=[r1])
    repo = tmp_path / "p"
    b.write(repo)
    rows = history_json(repo, "-m", "errors", "w")
    assert [(r["errors_delta"], r["errors_pct"], r["errors_verdict"]) for r in rows] == [
        (None, None, None), (2.0, 2e-14, "worse")]
    table = run_cli("history", "-m", "errors", "w", cwd=repo).stdout.splitlines()
    assert table[0] == "errors  ▁█  10000000000000001 -> 10000000000000003 over 2 runs " \
        "(lower is better)"  # the header said 1e+16 -> 1e+16
    assert table[-1].split()[-4:] == ["10000000000000003", "+2", "+2e-14%", "worse"]


def test_a_tiny_change_keeps_a_non_zero_percent_in_every_format_and_query(
        tmp_path: Path) -> None:
    """0.5 -> 0.50001 showed +0.00% (0.0 in JSON) next to 'worse': the % was rounded
    to 2 decimals. Under 0.1% it keeps 2 significant digits. The delta was
    9.99999999995e-06 in JSON and CSV (+1e-05 in the table): the values' float error."""
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("w", {"loss": 0.5}, parents=[c1])
    r2 = b.run("w", {"loss": 0.50001}, parents=[r1], code={"train.py": "y\n"})
    r3 = b.run("w", {"loss": 0.3}, parents=[r2], code={"train.py": "z\n"})
    repo = tmp_path / "p"
    shas = b.write(repo)
    rows = history_json(repo, "-m", "loss", "w")
    assert [(r["loss_delta"], r["loss_pct"], r["loss_verdict"]) for r in rows] == [
        (None, None, None), (1e-05, 0.002, "worse"), (-0.20001, -40.0, "better")]
    assert [(c.delta, c.pct) for c in (r.metrics["loss"] for r in gitlog.history(
        "loss", "w", repo=repo))] == [(None, None), (1e-05, 0.002), (-0.20001, -40.0)]
    table = run_cli("history", "-m", "loss", "w", cwd=repo).stdout
    assert "+0.002%  worse" in table and "-40%  better" in table
    csv_rows = run_cli("history", "-m", "loss", "w", "--format", "csv", cwd=repo).stdout
    assert ",0.50001,1e-05,0.002,worse," in csv_rows
    blamed = json.loads(run_cli("blame", "-m", "loss", "w", "--format", "json",
                                cwd=repo).stdout)
    assert {(r["run"], r["delta"], r["pct"]) for r in blamed} == {
        (shas[r2][:10], 1e-05, 0.002), (shas[r3][:10], -0.20001, -40.0)}
    compared = json.loads(run_cli("compare", shas[r1], shas[r2], "--format", "json",
                                  cwd=repo).stdout)
    assert [(r["delta"], r["pct"]) for r in compared["rows"] if r["key"] == "loss"] == \
        [(1e-05, 0.002)]


def test_a_percent_threshold_counts_any_worsening_from_zero(tmp_path: Path) -> None:
    b = Builder()
    c1 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("w", {"error_rate": 0}, parents=[c1])
    r2 = b.run("w", {"error_rate": 0.01}, parents=[r1])
    r3 = b.run("w", {"error_rate": 0.0101}, parents=[r2])
    repo = tmp_path / "p"
    shas = b.write(repo)
    rows = history_json(repo, "-m", "error_rate", "w", "--regressions=5%")
    assert [(r["commit"], r["error_rate_pct"]) for r in rows] == [(shas[r2][:10], None)]
    assert shas[r3]  # +1%: under the threshold


def test_booleans_in_metrics_json_are_values_in_every_query(tmp_path: Path) -> None:
    """metrics.json's `converged: true` showed in compare, but history said "no run has
    the metric converged", best --where that no run had metrics.converged, and the hint
    of a misspelled metric left it out. A boolean is now a value wherever a metric is
    listed (as `dvc metrics show` lists it), with no delta, %, verdict or sparkline point
    (it has no order); best and blame, which rank numbers, say why they cannot rank it."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0, "converged": False, "eval": {"ok": False}}, parents=[c0])
    r2 = b.run("a", {"loss": 0.5, "converged": True, "eval": {"ok": True}}, parents=[r1],
               code={"train.py": "y\n"})
    r3 = b.run("a", {"loss": 0.4, "converged": 1, "eval": {"ok": True}}, parents=[r2])
    r4 = b.run("a", {"loss": 0.2, "converged": 3}, parents=[r3])
    sha = b.write(tmp_path)
    for _ in range(2):  # walked, then from the cache
        rows = history_json(tmp_path, "-m", "converged,eval/ok", "a")
        assert [(r["commit"], r["converged"], r["converged_delta"], r["converged_verdict"],
                 r["eval/ok"], r["eval/ok_delta"]) for r in rows] == [
            (sha[r1][:10], False, None, None, False, None),
            (sha[r2][:10], True, None, None, True, None),
            (sha[r3][:10], 1, None, None, True, None),  # a number after booleans: the first
            (sha[r4][:10], 3, 2.0, "better", None, None)]
        assert [r["converged"] for r in history_json(tmp_path, "-m", "converged", "a")] == \
            [False, True, 1, 3]
    proc = run_cli("history", "-m", "converged,eval/ok", "a", "--format", "csv", cwd=tmp_path)
    assert [(r["converged"], r["converged_delta"], r["eval/ok"]) for r in
            csv.DictReader(io.StringIO(proc.stdout))] == [
        ("false", "", "false"), ("true", "", "true"), ("1", "", "true"), ("3", "2.0", "")]
    table = run_cli("history", "-m", "converged", "a", cwd=tmp_path).stdout.splitlines()
    assert table[0] == "converged    ▁█  1 -> 3 over 2 runs (higher is better)"
    assert [line.split()[6] for line in table[-4:]] == ["false", "true", "1", "3"]
    md = run_cli("history", "-m", "eval/ok", "a", "--format", "markdown", cwd=tmp_path)
    assert [line.split("|")[5].strip() for line in md.stdout.splitlines()[2:]] == \
        ["false", "true", "true", ""]
    api = gitlog.history("eval/ok", "a", repo=tmp_path)
    assert [(r.metrics["eval/ok"].value, r.metrics["eval/ok"].delta) for r in api] == \
        [(False, None), (True, None), (True, None), (None, None)]
    best = run_cli("best", "-m", "loss", "--where", "metrics.eval/ok == true and "
                   "not converged == false", "--format", "json", cwd=tmp_path)
    assert [(r["commit"], r["metrics.eval/ok"], r["converged"])
            for r in json.loads(best.stdout)] == [(sha[r3][:10], True, 1),
                                                   (sha[r2][:10], True, True)]
    for query, why in (("best", "best ranks numbers"),
                       ("blame", "blame ranks changes of a number"),
                       ("bisect", "bisect compares a number with --threshold")):
        extra = ["--threshold", "0.5", "--good", sha[r1], "--bad", sha[r3], "--", "true"] \
            if query == "bisect" else []
        proc = run_cli(query, "-m", "eval/ok", *extra, cwd=tmp_path)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (
            f"Error: eval/ok holds true or false, not a number, in every run that logged it: "
            f"{why}\nhint: see it run by run: gitlog history -m eval/ok; keep "
            "the runs where it is true: gitlog best -m METRIC --where 'metrics.eval/ok == "
            "true'\n")
    proc = run_cli("history", "-m", "eval/k", "a", cwd=tmp_path)
    assert proc.stderr.endswith("hint: metrics in these runs: converged, eval/ok, loss\n")


def test_main_merged_into_an_experiment_is_no_run(tmp_path: Path) -> None:
    """Merging main into exp/a (to pick up a fix) made the merge a run of its own in
    history, best and blame: the run before it again, delta 0, 'same', credited with
    main's files; gitlog ls counted two runs where history showed three. A merge that
    keeps its first parent's run files holds no run; the next run's code changes include
    what the merge brought."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    a1 = b.run("a", {"loss": 1.0}, parents=[c0], code={"train.py": "a1\n"})
    m1 = b.commit("main", {"util.py": "u\n"}, message="main: util", parents=[c0])
    merge = b.commit("exp/a", {"util.py": "u\n"}, message="Merge branch 'main' into exp/a",
                     parents=[a1, m1])
    a2 = b.run("a", {"loss": 0.8}, parents=[merge], code={"model.py": "m\n"})
    sha = b.write(tmp_path)
    for _ in range(2):  # walked, then from the cache
        for args in (["a"], ["--all"], ["a", "--first-parent"]):
            assert [(r["commit"], r["loss_delta"], r["code_changes"])
                    for r in history_json(tmp_path, "-m", "loss", *args)] == [
                (sha[a1][:10], None, None), (sha[a2][:10], -0.2, ["model.py", "util.py"])]
        best = run_cli("best", "-m", "loss", "--format", "json", cwd=tmp_path)
        assert [r["commit"] for r in json.loads(best.stdout)] == [sha[a2][:10], sha[a1][:10]]
        blame = run_cli("blame", "-m", "loss", "--all", "--format", "json", cwd=tmp_path)
        assert [(r["commit"], r["files"]) for r in json.loads(blame.stdout)] == \
            [(sha[a2][:10], ["model.py", "util.py"])]
    assert [r.commit for r in gitlog.history("loss", all=True, repo=tmp_path)] == \
        [sha[a1], sha[a2]]


def test_runs_of_one_second_link_to_their_own_line(tmp_path: Path) -> None:
    """Every run committed in the same second (scripts, CI): git orders the tie its own
    way, yet each delta is against the run before it on its own line, walked or read
    from the cache after new runs landed in that second too, and with --first-parent."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"}, at=5)
    a1 = b.run("a", {"loss": 1.0}, parents=[c0], at=5)
    a2 = b.run("a", {"loss": 0.9}, parents=[a1], code={"train.py": "a2\n"}, at=5)
    b1 = b.run("b", {"loss": 5.0}, parents=[a1], code={"b.py": "b1\n"}, at=5)
    a3 = b.run("a", {"loss": 0.7}, parents=[a2], at=5)
    b2 = b.run("b", {"loss": 4.0}, parents=[b1], code={"b.py": "b2\n"}, at=5)
    sha = b.write(tmp_path)
    name = {sha[m][:10]: n for n, m in (("a1", a1), ("a2", a2), ("b1", b1), ("a3", a3),
                                        ("b2", b2))}

    def links(*args: str) -> set[tuple]:
        return {(name.get(r["commit"], r["subject"]), r["loss_delta"], tuple(r["code_changes"])
                 if r["code_changes"] is not None else None)
                for r in history_json(tmp_path, "-m", "loss", *args)}

    expected = {("a1", None, None), ("a2", -0.1, ("train.py",)), ("a3", -0.2, ()),
                ("b1", 4.0, ("b.py",)), ("b2", -1.0, ("b.py",))}
    for args in (["--all"], ["--all", "--first-parent"]):
        assert links(*args) == expected
    same_second = {"GIT_COMMITTER_DATE": f"{BASE + 300} +0000",
                   "GIT_AUTHOR_DATE": f"{BASE + 300} +0000"}
    for branch, loss in (("b", 3.5), ("a", 0.5), ("b", 3.0)):  # new runs, that second too
        git(tmp_path, "checkout", "-q", f"exp/{branch}")
        (tmp_path / ".gitlog" / "metrics.json").write_text(f'{{"loss": {loss}}}\n')
        git(tmp_path, "commit", "-q", "-am", f"{branch}: {loss}", env=same_second)
    git(tmp_path, "checkout", "-q", "main")
    expected |= {("b: 3.5", -0.5, ()), ("a: 0.5", -0.2, ()), ("b: 3.0", -0.5, ())}
    for args in (["--all"], ["--all", "--first-parent"], ["--all"]):  # cached, then again
        assert links(*args) == expected, args
    shutil.rmtree(tmp_path / ".git" / "gitlog")
    assert links("--all") == expected


def test_a_metrics_json_nested_too_deeply_is_warned_and_skipped(tmp_path: Path) -> None:
    """A metrics.json nested thousands of levels deep (a runaway logger) stopped history,
    best, blame, compare and show with 'unexpected RecursionError': it is malformed as an
    unparsable one is, warned with its commit and skipped."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    r2 = b.run("a", '{"x": ' * 5000 + "1" + "}" * 5000, parents=[r1])
    r3 = b.run("a", '{"loss": 0.5, "d": ' + "[" * 100_000 + "]" * 100_000 + "}", parents=[r2])
    r4 = b.run("a", {"loss": 0.4}, parents=[r3], code={"train.py": "y\n"})
    sha = b.write(tmp_path)
    warned = [f"warning: commit {sha[r][:10]}: .gitlog/metrics.json is nested too deeply to "
              "read; skipped" for r in (r2, r3)]
    for query in (["history", "-m", "loss", "a"], ["best", "-m", "loss"],
                  ["blame", "-m", "loss", "a"]):
        proc = run_cli(*query, "--format", "json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert sorted(proc.stderr.splitlines()) == sorted(warned), query
        assert {r["commit"] for r in json.loads(proc.stdout)} <= {sha[r1][:10], sha[r4][:10]}
    assert [(r["commit"], r["loss_delta"]) for r in history_json(tmp_path, "-m", "loss", "a")] \
        == [(sha[r1][:10], None), (sha[r4][:10], -0.6)]
    for query in (["compare", sha[r3], sha[r4]], ["show", sha[r2]]):
        proc = run_cli(*query, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "metrics.json is nested too deeply to read; its metrics are shown as missing" \
            in proc.stderr

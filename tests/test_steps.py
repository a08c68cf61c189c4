"""``--step``: picking a point of a run's step series, and reading the series one at a
time (they can be megabytes each)."""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest

import gitlog
from gitlog.git import Repo
from gitlog.steps import pick
from tests.conftest import git, make_repo
from tests.runrepo import Builder

SERIES = b"timestamp\tstep\tloss\n0.0\t0\t0.9\n0.0\t1\t0.4\n0.0\t2\t3\n0.0\t1\t0.6\n0.0\t3\t0.5\n"


@pytest.mark.parametrize(("which", "value"), [
    ("last", 0.5), ("min", 0.4), ("max", 3), ("1", 0.6), ("2", 3), ("7", None)])
def test_pick_a_point_of_a_series(which: str, value: float | None) -> None:
    """The last line, the smallest or largest value (an int stays an int), or the last
    point logged at a step (a resumed run logs some steps twice)."""
    got = pick(SERIES, which)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("which", "value"), [
    ("last", 0.5), ("min", 0.4), ("max", 0.9), ("1", 0.4), ("2", None)])
def test_pick_skips_lines_that_do_not_parse(which: str, value: float | None) -> None:
    """A torn last line, a blank line, a step that is no number, a value that is none:
    skipped, the rest still counts."""
    series = (b"timestamp\tstep\tloss\n0.0\t0\t0.9\n\n0.0\tx\t0.1\n0.0\t1\t0.4\n"
              b"0.0\t2\tbroken\n0.0\t3\t0.5\n0.0\t4")
    assert pick(series, which) == value
    assert pick(b"timestamp\tstep\tloss\n", which) is None
    assert pick(b"", which) is None


@pytest.mark.parametrize("which", ["min", "max", "7", "last"])
def test_pick_on_a_long_series_holds_a_piece_not_the_series(which: str) -> None:
    """A series of millions of points (here 60,000, about 2.5 MB): the point is found
    holding a piece of it at a time, not the series several times over as lines and
    fields (5,000,000 points took 2.3 GB)."""
    n = 60_000
    data = b"timestamp\tstep\tloss\n" + b"".join(
        b"1700000000000\t%d\t%r\n" % (s, 1.0 / (s + 1) + (s == 7)) for s in range(n))
    tracemalloc.start()
    try:
        got = pick(data, which)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == {"min": 1.0 / n, "max": 1.125, "7": 1.125, "last": 1.0 / n}[which]
    assert peak < len(data) / 2, f"{peak / 1e6:.1f} MB held for a {len(data) / 1e6:.1f} MB series"


def test_objects_are_read_one_at_a_time_in_order(tmp_path: Path) -> None:
    """Answers come in the order asked, None for a missing one; stopping early stops git."""
    repo = make_repo(tmp_path / "r", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    objects = Repo(repo).iter_objects(["HEAD:a.txt", "HEAD:nope", "HEAD:b.txt"])
    assert [(o[0], o[1]) if o else None for o in objects] == \
        [("blob", b"alpha\n"), None, ("blob", b"beta\n")]
    many = Repo(repo).iter_objects(["HEAD:a.txt"] * 10_000)
    assert next(many)[1] == b"alpha\n"
    many.close()  # git is stopped, not left writing 9,999 answers to nobody
    assert git(repo, "status", "--porcelain") == ""


def test_large_series_are_not_held_at_once(tmp_path: Path) -> None:
    """--step over runs whose series are each about 0.75 MB: right values, and the query
    holds about one series at a time, not all of them."""
    b = Builder()
    parent = b.commit("main", {"train.py": "v1\n"})
    runs = 8
    for k in range(runs):
        points = [(s, round(1.0 / (s + 1) + k, 6)) for s in range(40_000)]
        parent = b.run("big", {"loss": float(k)}, parents=[parent], run_id=f"r{k}",
                       series={"loss": points})
    repo = tmp_path / "p"
    b.write(repo)
    size = len(git(repo, "show", "exp/big:.gitlog/metrics/loss.tsv"))
    assert size > 700_000
    tracemalloc.start()
    try:
        rows = gitlog.history("loss", "exp/big", repo=repo, step="last")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.value() for r in rows] == [round(1 / 40_000 + k, 6) for k in range(runs)]
    # holding every series would be 8 of them; one at a time peaks near 3
    assert peak < 5 * size, f"{peak / 1e6:.1f} MB held for {runs} series of {size / 1e6:.1f} MB"
    assert [r.value() for r in gitlog.history("loss", "exp/big", repo=repo, step="min")] == \
        [round(1 / 40_000 + k, 6) for k in range(runs)]


def test_a_step_walk_holds_one_run_of_series_at_a_time(tmp_path: Path) -> None:
    """--step over several metrics: a run's series are read together, and the run before's
    are let go first (200 series of 100,000 steps a run: two runs' worth, 1.4 GB, held)."""
    b = Builder()
    parent = b.commit("main", {"train.py": "v1\n"})
    names = [f"m{j}" for j in range(4)]
    for k in range(2):
        series = {n: [(s, round(1.0 / (s + 1) + k + j, 6)) for s in range(60_000)]
                  for j, n in enumerate(names)}
        parent = b.run("wide", {n: 0.0 for n in names}, parents=[parent], run_id=f"r{k}",
                       series=series)
    repo = tmp_path / "p"
    b.write(repo)
    size = sum(len(git(repo, "show", f"exp/wide:.gitlog/metrics/{n}.tsv")) for n in names)
    gitlog.history(names, "exp/wide", repo=repo, step="min")  # imports, not counted
    shutil.rmtree(repo / ".git" / "gitlog")
    tracemalloc.start()
    try:
        rows = gitlog.history(names, "exp/wide", repo=repo, step="max")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [[r.value(n) for n in names] for r in rows] == \
        [[1.0 + k + j for j in range(4)] for k in range(2)]
    assert peak < 1.5 * size, f"{peak / 1e6:.1f} MB held for a run's {size / 1e6:.1f} MB"


def test_a_step_walk_reads_the_series_as_it_goes(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A --step walk reads each run's series in the walk itself and stores its rows a
    piece at a time, as any walk: the same rows as reading every series at the end (what
    a log folder with a blank in its path still does), across a fork and a rebased copy."""
    from gitlog import historyrows, rowstore
    from gitlog.historyquery import query_history

    def series(last: float) -> dict:
        return {"loss": [(0, last + 1), (1, last), (2, last + 0.5)]}

    b = Builder()
    c1 = b.commit("main", {"train.py": "v1\n"})
    a1 = b.run("a", {"loss": 1.0}, parents=[c1], run_id="a1", series=series(1.0))
    a2 = b.run("a", {"loss": 0.8}, parents=[a1], run_id="a2", branch="exp/a-old",
               series=series(0.8))
    b.run("f", {"loss": 0.9}, parents=[a1], run_id="f1", series=series(0.7))
    b.run("m", {"loss": 0.9}, parents=[a2], run_id="m1",  # no series: a blank cell
          code={".gitlog/metrics/loss.tsv": None})
    c2 = b.commit("main", {"README": "base\n"}, parents=[c1])
    r1 = b.run("a", {"loss": 1.0}, parents=[c2], run_id="a1", series=series(1.0))
    r2 = b.run("a", {"loss": 0.8}, parents=[r1], run_id="a2", series=series(0.8))
    b.run("a", {"loss": 0.6}, parents=[r2], run_id="a3", code={"train.py": "v2\n"},
          series=series(0.6))
    repo = tmp_path / "p"
    b.write(repo)

    def walked(step: str) -> rowstore.Rows:
        shutil.rmtree(repo / ".git" / "gitlog", ignore_errors=True)
        return query_history(["loss"], all=True, repo=repo, step=step).kept

    monkeypatch.setattr(rowstore, "CHUNK", 2)
    for step in ("min", "last", "2"):
        piped = walked(step)
        assert isinstance(piped.lines, rowstore.StoredLines), step
        rows = list(piped)
        with monkeypatch.context() as m:
            m.setattr(historyrows, "step_points", lambda *a: None)
            late = walked(step)
        assert isinstance(late.lines, list) and rows == list(late), step
    assert [(r.run, r.value(), r.metrics["loss"].delta)
            for r in gitlog.history("loss", all=True, repo=repo, step="min")] == \
        [("a1", 1.0, None), ("a2", 0.8, -0.2), ("f1", 0.7, -0.3), ("m1", None, None),
         ("a3", 0.6, -0.2)]


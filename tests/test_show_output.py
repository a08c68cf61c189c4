"""What ``gitlog show``, ``gitlog ls`` and ``gitlog exp list`` print for messy runs: long
values, empty mappings, experiments with no run yet; the same content in every format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_cli
from tests.runrepo import Builder

LONG_TEXT = "x" * 10240
PARAMS_YAML = ("big: " + LONG_TEXT + "\n"
               "kwargs: {}\n"
               "list: [" + ", ".join(map(str, range(1000))) + "]\n"
               "opt:\n  lr: 0.1\n  sched: {}\n"
               "学習率: 0.5\n")


def messy_repo(path: Path) -> Path:
    """exp/messy: one run with a 10 kB string, a list of 1,000 numbers and empty mappings
    among its params; exp/empty: a branch with no run (as ``gitlog exp new`` makes)."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    b.commit("exp/messy", {
        ".gitlog/run.yaml": "id: r1\nexperiment: messy\nstatus: completed\n"
                            "end: '2024-01-01T00:05:00.000Z'\n",
        ".gitlog/metrics.json": '{"loss": 0.5}\n',
        ".gitlog/params.yaml": PARAMS_YAML}, parents=[c0], message="messy run")
    b.commit("exp/empty", {}, parents=[c0], message="x")
    b.write(path)
    return path


def section(table: str, name: str) -> list[str]:
    """The lines of one ``== name ==`` block of show's table."""
    block = table.split(f"== {name} ==\n", 1)[1]
    return block.split("\n\n", 1)[0].splitlines()


def test_show_table_cuts_long_values_json_and_csv_keep_them_whole(tmp_path: Path) -> None:
    """A 10 kB string param was one 10,254-column line of show's table, a list of 1,000
    numbers one of 4,904: the table cuts them at 60 columns with '…'."""
    repo = messy_repo(tmp_path / "p")
    proc = run_cli("show", "messy", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    params = section(proc.stdout, "params")
    assert params[0] == "big        " + "x" * 59 + "…"
    assert params[2] == "list       [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,…"
    assert max(map(len, proc.stdout.splitlines())) == 71
    shown = json.loads(run_cli("show", "messy", "--format", "json", cwd=repo).stdout)
    assert shown["params"]["big"] == LONG_TEXT
    assert shown["params"]["list"] == list(range(1000))
    rows = list(csv.DictReader(io.StringIO(run_cli("show", "messy", "--format", "csv",
                                                   cwd=repo).stdout)))
    cells = {r["key"]: r["value"] for r in rows if r["section"] == "params"}
    assert cells["big"] == LONG_TEXT
    assert json.loads(cells["list"]) == list(range(1000))


def test_show_keeps_an_empty_mapping_param_in_every_format(tmp_path: Path) -> None:
    """``kwargs: {}`` was in show's JSON but missing from its table and CSV."""
    repo = messy_repo(tmp_path / "p")
    shown = json.loads(run_cli("show", "messy", "--format", "json", cwd=repo).stdout)
    assert (shown["params"]["kwargs"], shown["params"]["opt"]) == ({}, {"lr": 0.1, "sched": {}})
    rows = list(csv.DictReader(io.StringIO(run_cli("show", "messy", "--format", "csv",
                                                   cwd=repo).stdout)))
    assert [(r["key"], r["value"]) for r in rows if r["section"] == "params"][1:] == [
        ("kwargs", "{}"), ("list", json.dumps(list(range(1000)))), ("opt/lr", "0.1"),
        ("opt/sched", "{}"), ("学習率", "0.5")]
    params = section(run_cli("show", "messy", cwd=repo).stdout, "params")
    assert [line for line in params if not line.startswith(("big", "list"))] == [
        "kwargs     {}", "opt/lr     0.1", "opt/sched  {}", "学習率     0.5"]


def test_ls_and_exp_list_give_no_last_run_to_an_experiment_without_runs(
        tmp_path: Path) -> None:
    """An experiment just made by ``exp new`` showed, as its last run, the date of the
    commit it branched from: it has run nothing yet."""
    repo = messy_repo(tmp_path / "p")
    rows = json.loads(run_cli("ls", "--format", "json", cwd=repo).stdout)
    assert [(r["experiment"], r["runs"], r["last_run"], r["status"]) for r in rows] == [
        ("empty", 0, None, None), ("messy", 1, "2024-01-01T00:05:00.000Z", "completed")]
    rows = json.loads(run_cli("exp", "list", "--format", "json", cwd=repo).stdout)
    assert [(r["name"], r["runs"], r["last_run"]) for r in rows] == [
        ("empty", 0, None), ("messy", 1, "2024-01-01T00:05:00.000Z")]
    text = run_cli("ls", "--format", "csv", cwd=repo).stdout
    assert text.splitlines()[1] == "empty,exp/empty,0,,,,"
    table = run_cli("ls", cwd=repo).stdout.splitlines()
    assert table[2].split() == ["empty", "exp/empty", "0"]


def test_an_experiment_without_runs_is_named_so_in_every_command_that_takes_a_run(
        tmp_path: Path) -> None:
    """``gitlog show NAME`` of an experiment just made by ``exp new`` said 'this commit
    holds no run' with the hint to pick a run commit from 'git log exp/NAME': it says
    the experiment has no run yet, and how to log one."""
    repo = messy_repo(tmp_path / "p")
    for args in (("show", "empty"), ("show", "exp/empty", "--format", "json"),
                 ("logs", "empty")):
        proc = run_cli(*args, cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            1, "", f"Error: this experiment has no run yet: {args[1]}\n"
                   "hint: log one: gitlog run -e empty -- python train.py\n"), args
    proc = run_cli("show", "empty~0", cwd=repo)  # a commit, not the experiment's name
    assert proc.stderr.startswith("Error: this commit holds no run: empty~0\n")


def test_ls_right_aligns_columns_of_numbers(tmp_path: Path) -> None:
    """Counts and metrics were left-aligned as text, so digits did not line up; words stay
    left, and blank cells (b logged no loss last) do not make a column text."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    b.run("a", {"loss": 0.5}, parents=[c0])
    tip = b.run("b", {"loss": 0.125, "accuracy": 0.75}, parents=[c0])
    b.run("b", {"accuracy": 0.875}, parents=[tip])
    repo = tmp_path / "p"
    b.write(repo)
    head, _, a, bee = run_cli("ls", cwd=repo).stdout.splitlines()
    right = {w: head.index(w) + len(w) for w in ("runs", "loss", "accuracy")}  # edges
    assert a[right["runs"] - 1] == "1" and bee[right["runs"] - 1] == "2"
    assert a[:right["loss"]].endswith(" 0.5")
    assert bee[:right["accuracy"]].endswith(" 0.875") and bee[:right["loss"]].endswith("  ")
    assert head.startswith("experiment") and a.startswith("a ") and "completed" in a
    assert a.index("completed") == head.index("status")  # text: left

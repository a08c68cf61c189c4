"""``gitlog ls`` on many branches: exact run counts over shared history and merges, a
constant number of git processes, counts kept across calls and right after branches move,
and YAML read with the same values and error lines whichever parser ruamel uses."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_cli
from tests.runrepo import Builder


def ls_rows(repo: Path, env: dict | None = None) -> list[tuple]:
    proc = run_cli("ls", "--format", "json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    return [(r["experiment"], r["runs"], r["status"], r["loss"])
            for r in json.loads(proc.stdout)]


def shared_history(path: Path) -> dict[str, int]:
    """exp/a: r1 r2; exp/b forks at r1: r3; exp/c merges a and b with run files of its
    own (a run); exp/d merges them taking a's files (no run); exp/e edits the README on
    top of r2; exp/f is a new branch at the first commit (no run); main merges exp/a."""
    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    r1 = b.run("a", {"loss": 1.0}, parents=[c0])
    r2 = b.run("a", {"loss": 0.5}, parents=[r1])
    r3 = b.run("b", {"loss": 0.8}, parents=[r1])
    b.run("c", {"loss": 0.4}, parents=[r2, r3], subject="merge with a run")
    b.commit("exp/d", {"README": "merged\n"}, parents=[r2, r3], message="merge")
    b.commit("exp/e", {"README": "notes\n"}, parents=[r2], message="notes")
    b.commit("exp/f", {}, parents=[c0], message="new experiment")
    b.commit("main", {}, parents=[c0, r2], message="promote a")
    shas = b.write(path)
    return {"r3": shas[r3]}


def test_ls_counts_every_branch_of_a_shared_history_exactly(tmp_path: Path) -> None:
    repo = tmp_path / "p"
    shared_history(repo)
    assert ls_rows(repo) == [
        ("a", 2, "completed", 0.5),
        ("b", 2, "completed", 0.8),
        ("c", 4, "completed", 0.4),  # r1 r2 r3 and the merge's own run
        ("d", 3, "completed", 0.5),  # the merge took a's files: a's latest run, no run
        ("e", 2, "completed", 0.5),
        ("f", 0, None, None),
    ]


def test_ls_runs_as_many_git_processes_for_twelve_branches_as_for_two(
        tmp_path: Path) -> None:
    """ls ran one 'git log' per branch to count its runs (100 branches, 100 processes),
    and one 'git rev-list' per branch whose tip is no run to find the run it carries."""
    def processes(branches: int) -> int:
        b = Builder()
        c0 = b.commit("main", {"train.py": "x\n"})
        for n in range(branches):
            r1 = b.run(f"e{n}", {"loss": 1.0}, parents=[c0])
            r2 = b.run(f"e{n}", {"loss": 0.5}, parents=[r1])
            if n % 2:  # a tip that is no run, on top of one
                b.commit(f"exp/e{n}", {"README": f"{n}\n"}, parents=[r2], message="notes")
            b.commit(f"exp/new{n}", {}, parents=[c0], message="no run yet")
        repo = tmp_path / f"r{branches}"
        b.write(repo)
        trace = tmp_path / f"trace{branches}"
        rows = ls_rows(repo, env={"GIT_TRACE": str(trace)})
        assert [r[1:] for r in rows] == [(2, "completed", 0.5)] * branches + \
            [(0, None, None)] * branches
        return trace.read_text().count("trace: built-in: git ")

    assert processes(12) == processes(2)


def test_ls_counts_stay_right_when_branches_move_between_calls(tmp_path: Path) -> None:
    """Counts are kept by commit between calls: a branch that gets a run, one reset to an
    older commit and one deleted show what their history holds now."""
    repo = tmp_path / "p"
    c = shared_history(repo)
    before = ls_rows(repo)
    b = Builder()
    b.stream += f"reset refs/heads/exp/b\nfrom {c['r3']}\n\n".encode()
    b.count = 100
    b.run("b", {"loss": 0.3}, parents=[], branch="exp/b")
    b.write(repo)
    git(repo, "update-ref", "refs/heads/exp/a", git(repo, "rev-parse", "exp/a~1").strip())
    git(repo, "branch", "-D", "exp/f")
    assert ls_rows(repo) == [
        ("a", 1, "completed", 1.0),
        ("b", 3, "completed", 0.3),
        *before[2:5],
    ]


def test_yaml_reads_the_same_values_and_errors_whichever_parser_ruamel_has() -> None:
    """With ruamel.yaml.clib installed, YAML files are read by its C parser: values read
    as YAML 1.2 as before, and invalid YAML still says where, quoting the line."""
    import datetime as dt
    import math

    import pytest

    from gitlog.layout import yaml_load

    got = yaml_load(b"a: yes\nb: on\nc: 017\nd: 1_000\ne: 2024-01-31\nf: .inf\ng: 0o17\n"
                    b"h: ~\ni: 'x'\nj: [1, 2.5]\n")
    assert got == {"a": "yes", "b": "on", "c": 17, "d": 1000, "e": dt.date(2024, 1, 31),
                   "f": math.inf, "g": 15, "h": None, "i": "x", "j": [1, 2.5]}
    for _ in range(2):  # the loader is reused: an error leaves it as it was
        with pytest.raises(Exception) as info:
            yaml_load("lr: 0.1\nopt: a: b\n")
        assert str(info.value) == ('mapping values are not allowed here\n'
                                   '  in "<unicode string>", line 2, column 7:\n'
                                   '    opt: a: b\n'
                                   '          ^ (line: 2)')
        assert yaml_load("lr: 0.1\n") == {"lr": 0.1}
    # a YAML 1.1 document (a directive only the pure parser honours) reads as 1.1
    assert yaml_load(b"%YAML 1.1\n---\nflag: yes\n") == {"flag": True}


def test_ls_counts_the_runs_a_deepened_shallow_clone_brings(tmp_path: Path) -> None:
    """Counts are kept by commit, and deepening a shallow clone gives a commit more
    history: after 'git fetch --unshallow', ls counts every run, not the kept one."""
    origin = tmp_path / "origin"
    shared_history(origin)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{origin}",
        str(clone))
    # one commit a branch: each tip holding run files counts as one run
    assert [r[:2] for r in ls_rows(clone)] == [(n, 1) for n in "abcde"] + [("f", 0)]
    git(clone, "fetch", "-q", "--unshallow")
    assert [r[:2] for r in ls_rows(clone)] == [("a", 2), ("b", 2), ("c", 4), ("d", 3),
                                               ("e", 2), ("f", 0)]


def test_ls_counts_follow_replace_refs(tmp_path: Path) -> None:
    """'git replace --graft' gives a commit other parents: ls counts what git now walks,
    and again what it walked before once the replacement is gone."""
    repo = tmp_path / "p"
    c = shared_history(repo)
    assert [r[:2] for r in ls_rows(repo)][:2] == [("a", 2), ("b", 2)]
    git(repo, "replace", "--graft", c["r3"])  # exp/b's run, now without its parent
    assert [r[:2] for r in ls_rows(repo)][:2] == [("a", 2), ("b", 1)]
    git(repo, "replace", "-d", c["r3"])
    assert [r[:2] for r in ls_rows(repo)][:2] == [("a", 2), ("b", 2)]


def test_ls_dates_a_run_without_times_by_its_own_commit_not_one_on_top(
        tmp_path: Path) -> None:
    """Metrics committed by hand have no run.yaml, so the run's date is its commit's: a
    README edit on top of it made last_run the edit's date (as if it ran then). That date
    is in UTC as runs' times are: a committer at +02:00 gave '...T02:02:00+02:00' beside
    other rows' '...Z', which sorted as text put two hours wrong."""
    from tests.runrepo import utc

    b = Builder()
    c0 = b.commit("main", {"train.py": "x\n"})
    b.commit("exp/m", {".gitlog/metrics.json": '{"loss": 0.5}\n'}, parents=[c0],
             message="metrics by hand", tz="+0200")  # the 2nd commit
    b.commit("exp/m", {"README": "notes\n"}, message="notes")  # the 3rd, on top
    b.run("r", {"loss": 0.7}, parents=[c0], run_yaml=False)  # the 4th, a tip
    repo = tmp_path / "p"
    b.write(repo)
    rows = json.loads(run_cli("ls", "--format", "json", cwd=repo).stdout)
    assert [(r["experiment"], r["runs"], r["last_run"], r["status"], r["loss"])
            for r in rows] == [("m", 1, utc(2), None, 0.5), ("r", 1, utc(4), "completed", 0.7)]


def test_yaml_reads_with_the_pure_parser_when_ruamel_yaml_clib_is_missing(
        tmp_path: Path) -> None:
    """ruamel.yaml.clib is a dependency, but an install without it (another platform, a
    broken wheel) reads YAML with the pure parser: same values, same errors."""
    from tests.conftest import run_python

    code = """
import sys
sys.modules["_ruamel_yaml"] = None  # as if ruamel.yaml.clib were not installed
from gitlog.layout import yaml_load
print(yaml_load(b"a: yes\\nb: 017\\n"))
try:
    yaml_load("lr: 0.1\\nopt: a: b\\n")
except Exception as err:
    print(str(err).splitlines()[:2])
from ruamel.yaml import YAML
print(YAML(typ="safe").Parser.__module__)
"""
    proc = run_python(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "{'a': 'yes', 'b': 17}",
        "['mapping values are not allowed here', "
        "'  in \"<unicode string>\", line 2, column 7:']",
        "ruamel.yaml.parser"]

"""gitlog reproduce: a run re-run in a temporary worktree, metrics compared."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, make_repo, run_cli, state_of
from tests.dvcsetup import make_dvc_project, write_data


def user_state(repo: Path) -> dict[str, bytes]:
    return {k: v for k, v in state_of(repo).items() if not k.startswith(".dvc/")}


def test_reproduce_restores_code_and_data_and_compares_metrics(tmp_path: Path) -> None:
    repo = make_dvc_project(tmp_path / "project")
    write_data(repo, "1 2 3 4")
    proc = run_cli("run", "-e", "base", "--", sys.executable, "train.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    old = git(repo, "rev-parse", "exp/base").strip()
    # The user moves on: other data, other code, uncommitted work. None of it may leak in.
    write_data(repo, "100 200")
    (repo / "train.py").write_text((repo / "train.py").read_text().replace("1.0 /", "2.0 /"))
    (repo / "notes.txt").write_text("wip\n")
    before = user_state(repo)

    proc = run_cli("reproduce", "base", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    checks = {c["metric"]: c for c in json.loads(proc.stdout)}
    assert checks["total"] == {"metric": "total", "old": 10, "new": 10, "rel_diff": 0.0,
                               "result": "pass"}
    assert checks["loss"]["result"] == "pass"
    assert "gitlog: reproduced run" in proc.stderr
    assert user_state(repo) == before
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    new = git(repo, "rev-parse", "exp/base").strip()
    assert git(repo, "rev-parse", f"{new}^").strip() == old
    assert "reproduce run" in git(repo, "log", "-1", "--format=%s", new)
    assert "seed: 1" in git(repo, "show", f"{new}:.gitlog/params.yaml")

    # Another command that does not reproduce the metrics: FAIL per metric, exit 1.
    code = ("import gitlog\nwith gitlog.start() as run:\n"
            "    run.log_metric('total', 11)\n    run.log_metric('loss', 0.1)\n")
    proc = run_cli("reproduce", old, "--rtol", "0.05", "--", sys.executable, "-c", code,
                   cwd=repo)
    assert proc.returncode == 1
    table = proc.stdout.splitlines()
    assert table[0].split() == ["metric", "old", "new", "rel_diff", "result"]
    assert table[2].split() == ["loss", "0.1", "0.1", "0", "pass"]
    assert table[3].split() == ["total", "10", "11", "0.1", "FAIL"]
    assert proc.stderr.splitlines()[-2].startswith("Error: did not reproduce: run ")
    assert "1/2 metrics within rtol=0.05" in proc.stderr
    assert user_state(repo) == before


def test_reproduce_of_a_failing_command_and_of_a_missing_run(tmp_path: Path) -> None:
    repo = make_dvc_project(tmp_path / "project")
    write_data(repo)
    assert run_cli("run", "-e", "base", "--", sys.executable, "train.py", cwd=repo).returncode == 0
    proc = run_cli("reproduce", "base", "--", sys.executable, "-c", "raise SystemExit(3)",
                   cwd=repo)
    assert proc.returncode == 1
    assert "Error: did not reproduce: the command ended failed (exit code 3)" in proc.stderr
    proc = run_cli("reproduce", "nope", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no commit, experiment or run id matches: nope")


def test_metrics_compare_relative_to_the_old_value() -> None:
    from gitlog.reproduce import compare

    checks = compare({"loss": 1.0, "zero": 0.0, "diverged": float("nan"), "acc": 0.5,
                      "gone": 3, "step": 9},
                     {"loss": 1.0009, "zero": 1e-9, "diverged": float("nan"), "acc": 0.6},
                     rtol=0.001)
    assert {c.name: c.ok for c in checks} == {"loss": True, "zero": False, "diverged": True,
                                              "acc": False, "gone": False}
    assert compare({"zero": 0.0}, {"zero": 1e-9}, rtol=0.001, atol=1e-6)[0].ok


def test_reproduce_runs_the_command_in_the_folder_it_ran_in(tmp_path: Path) -> None:
    """A run started from a subfolder (cd src && gitlog run -- python fit.py) was re-run
    at the worktree's root, where fit.py is not: "can't open file", FAIL."""
    fit = ("import gitlog, pathlib\nwith gitlog.start() as run:\n"
           "    run.log_metric('loss', float(pathlib.Path('scale.txt').read_text()))\n")
    repo = make_repo(tmp_path / "project", {"src/fit.py": fit, "src/scale.txt": "0.25\n"})
    proc = run_cli("run", "-e", "sub", "--", sys.executable, "fit.py", cwd=repo / "src")
    assert proc.returncode == 0, proc.stderr
    run_yaml = git(repo, "show", "exp/sub:.gitlog/run.yaml")
    assert "\ncwd: src\n" in run_yaml
    proc = run_cli("reproduce", "sub", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"metric": "loss", "old": 0.25, "new": 0.25,
                                        "rel_diff": 0.0, "result": "pass"}]
    assert "\ncwd: src\n" in git(repo, "show", "exp/sub:.gitlog/run.yaml")
    # A run from the root records no folder.
    proc = run_cli("run", "-e", "top", "--", sys.executable, "-c",
                   "import gitlog\nwith gitlog.start() as r: r.log_metric('loss', 1)", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "cwd:" not in git(repo, "show", "exp/top:.gitlog/run.yaml")


def test_reproduce_refuses_a_branch_checked_out_in_a_working_tree(tmp_path: Path) -> None:
    """On exp/base (the workspace workflow), 'gitlog reproduce base' committed the new
    run to exp/base under the working tree: git status then showed the run undone, staged
    for the next commit to revert."""
    code = "import gitlog\nwith gitlog.start() as run:\n    run.log_metric('loss', 0.5)\n"
    repo = make_repo(tmp_path / "project", {"train.py": code})
    assert run_cli("run", "-e", "base", "--", sys.executable, "train.py",
                   cwd=repo).returncode == 0
    tip = git(repo, "rev-parse", "exp/base").strip()
    git(repo, "checkout", "-q", "exp/base")
    before = state_of(repo)
    proc = run_cli("reproduce", "base", cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"Error: exp/base is checked out here ({repo}): the reproduced run would move that "
        "branch under its working tree\n"
        "hint: switch away first (git checkout main), then reproduce again\n")
    assert state_of(repo) == before
    git(repo, "checkout", "-q", "main")
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", str(other), "exp/base")
    proc = run_cli("reproduce", "base", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"Error: exp/base is checked out in another worktree ({other}): the reproduced run "
        "would move that branch under its working tree\n"
        f"hint: free the branch there first (git -C {other} checkout --detach, or another "
        "branch), then reproduce again\n")
    assert git(repo, "rev-parse", "exp/base").strip() == tip
    assert git(other, "status", "--porcelain") == ""
    git(other, "checkout", "-q", "--detach")
    proc = run_cli("reproduce", "base", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "rev-parse", "exp/base^").strip() == tip
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 2


def test_a_command_that_logs_none_of_the_metrics_is_not_called_nondeterministic(
        tmp_path: Path) -> None:
    """The hint said 'look for nondeterminism (seeds, data order), or loosen --rtol' when
    the new run had logged nothing at all."""
    code = ("import gitlog\nwith gitlog.start() as run:\n    run.log_metric('loss', 0.5)\n"
            "    run.log_metric('acc', 0.75)\n")
    repo = make_repo(tmp_path / "project", {"train.py": code})
    assert run_cli("run", "-e", "base", "--", sys.executable, "train.py",
                   cwd=repo).returncode == 0
    proc = run_cli("reproduce", "base", "--", sys.executable, "-c", "print('no logging')",
                   cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "hint: the new run logged no acc, loss: does the command log them (gitlog.start() "
        "in it)?")


def test_a_tolerance_that_is_negative_nan_or_infinite_is_refused_before_anything_runs(
        tmp_path: Path) -> None:
    """--atol nan or -1 was dropped unseen by max(rtol * |old|, atol) (and --atol inf
    passed every metric): the command ran, a run was logged, the check used rtol only."""
    from tests.runrepo import Builder

    b = Builder()
    c1 = b.commit("main", {"train.py": "print('v1')\n"})
    b.run("a", {"loss": 0.5}, parents=[c1], run_id="a1")
    repo = tmp_path / "proj"
    b.write(repo)
    tip = git(repo, "rev-parse", "exp/a").strip()
    for option, value, example in (
            ("--atol", "nan", "--atol 1e-6 passes a difference of up to 1e-6"),
            ("--atol", "-1", "--atol 1e-6 passes a difference of up to 1e-6"),
            ("--atol", "inf", "--atol 1e-6 passes a difference of up to 1e-6"),
            ("--rtol", "-0.5", "--rtol 0.01 passes a 1% difference")):
        proc = run_cli("reproduce", "a", option, value, "--", sys.executable, "-c", "pass",
                       cwd=repo)
        assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (1, "", [
            f"Error: bad {option} {value}: a tolerance is a finite number >= 0",
            f"hint: {example}; 0 passes equal values only"])
    assert git(repo, "rev-parse", "exp/a").strip() == tip  # nothing ran or was logged
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_an_unknown_option_is_a_usage_error_not_the_command(tmp_path: Path) -> None:
    """'--rtl 0.1' (a typo of --rtol) was taken as COMMAND: 'command not found: --rtl'."""
    repo = make_repo(tmp_path / "p", {"train.py": "print(1)\n"})
    proc = run_cli("reproduce", "HEAD", "--rtl", "0.1", cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines()[0] == "Error: No such option '--rtl'. Did you mean '--rtol'?"


def test_a_script_the_run_did_not_commit_is_named_before_a_run_is_logged(
        tmp_path: Path) -> None:
    """A run keeps the files git tracks: train.py untracked when it ran is not in its
    commit. Reproducing it ran 'python train.py' anyway ('can't open file'), logged a
    failed run on exp/a and blamed the command."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    (repo / "train.py").write_text("import gitlog\nwith gitlog.start() as run:\n"
                                   "    run.log_metric('loss', 0.25)\n")
    done = run_cli("run", "-e", "a", "--", sys.executable, "train.py", cwd=repo)
    assert done.returncode == 0, done.stderr
    tip = git(repo, "rev-parse", "exp/a").strip()
    run_id = git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly)",
                 tip).strip()
    proc = run_cli("reproduce", "a", cwd=repo)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (1, "", [
        f"Error: the command's script train.py is not in the code of run {run_id} "
        f"({tip[:10]})",
        "hint: a run keeps only files git tracks: git add train.py before the next run; or "
        "give another command after --"])
    assert git(repo, "rev-parse", "exp/a").strip() == tip
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_an_absolute_path_into_the_repository_runs_the_runs_code(tmp_path: Path) -> None:
    """'gitlog run -- python $PWD/train.py' recorded the absolute path: reproduce ran your
    checkout's train.py as it is now (edited since: 'FAIL', 'look for nondeterminism'),
    and one the run never committed passed as reproduced."""
    script = "import gitlog\nwith gitlog.start() as run:\n    run.log_metric('loss', {})\n"
    repo = make_repo(tmp_path / "p", {"train.py": script.format(0.25)})
    for name, path in (("a", "train.py"), ("b", "other.py")):
        if name == "b":
            (repo / path).write_text(script.format(0.5))  # untracked: not in the run
        done = run_cli("run", "-e", name, "--", sys.executable, str(repo / path), cwd=repo)
        assert done.returncode == 0, done.stderr
    (repo / "train.py").write_text(script.format(0.75))  # edited after the run
    proc = run_cli("reproduce", "a", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert [(r["old"], r["new"]) for r in json.loads(proc.stdout)] == [(0.25, 0.25)]
    recorded = git(repo, "show", "exp/a:.gitlog/run.yaml")
    assert f"command: {sys.executable} train.py\n" in recorded  # no temporary folder
    tip = git(repo, "rev-parse", "exp/b").strip()
    run_id = git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly)",
                 tip).strip()
    proc = run_cli("reproduce", "b", cwd=repo)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (1, "", [
        f"Error: the command's script other.py is not in the code of run {run_id} "
        f"({tip[:10]})",
        "hint: a run keeps only files git tracks: git add other.py before the next run; or "
        "give another command after --"])
    assert git(repo, "rev-parse", "exp/b").strip() == tip


def test_a_run_of_python_c_records_its_code_and_reproduces(tmp_path: Path) -> None:
    """Under 'python -c CODE' sys.argv is ['-c']: run.yaml recorded 'python -c', and
    reproduce ran that ('Argument expected for the -c option'), logged a failed run on
    the experiment and said 'did not reproduce'. The code is recorded now."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    code = "import gitlog\nwith gitlog.start('c') as run:\n    run.log_metric('loss', 0.25)\n"
    done = subprocess.run([sys.executable, "-c", code, "x"], cwd=repo, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    recorded = git(repo, "show", "exp/c:.gitlog/run.yaml")
    assert yaml_command(recorded) == shlex.join([Path(sys.executable).name, "-c", code, "x"])
    proc = run_cli("reproduce", "c", "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"metric": "loss", "old": 0.25, "new": 0.25,
                                        "rel_diff": 0.0, "result": "pass"}]


def yaml_command(run_yaml: str) -> str:
    from ruamel.yaml import YAML

    return str(YAML(typ="safe").load(run_yaml)["command"])


def test_a_recorded_python_c_without_its_code_is_refused_before_a_run_is_logged(
        tmp_path: Path) -> None:
    """Runs recorded before (command 'python -c'): refused, nothing logged."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    code = ("import gitlog\nwith gitlog.start('c', command='python -c') as run:\n"
            "    run.log_metric('loss', 0.25)\n")
    tip, run_id = logged_by_python_c(repo, code, "c")
    proc = run_cli("reproduce", "c", cwd=repo)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (1, "", [
        f"Error: run {run_id} recorded its command without the code python -c ran: "
        "python -c",
        "hint: give the command: gitlog reproduce REV -- python -c CODE"])
    assert git(repo, "rev-parse", "exp/c").strip() == tip


def test_a_run_that_logged_no_metrics_is_refused_not_reproduced(tmp_path: Path) -> None:
    """A run with no metrics 'reproduced' with exit 0: '0/0 metrics within rtol=0.001',
    after running the command and logging a run. Nothing to compare is refused now, before
    anything runs."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    code = "import gitlog\nwith gitlog.start('quiet') as run:\n    run.info('no metrics')\n"
    tip, run_id = logged_by_python_c(repo, code, "quiet")
    proc = run_cli("reproduce", "quiet", cwd=repo)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()) == (1, "", [
        f"Error: run {run_id} logged no metrics: there is nothing to compare a "
        "reproduction with",
        "hint: reproduce a run that logged metrics (gitlog ls), or run the command again "
        "as a new run: gitlog run -e NAME -- COMMAND"])
    assert git(repo, "rev-parse", "exp/quiet").strip() == tip


def logged_by_python_c(repo: Path, code: str, experiment: str) -> tuple[str, str]:
    """Run ``python -c CODE`` in ``repo``; (the tip of exp/EXPERIMENT, its run id)."""
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    tip = git(repo, "rev-parse", f"exp/{experiment}").strip()
    run_id = git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly)",
                 tip).strip()
    return tip, run_id


def test_a_new_run_that_cannot_be_committed_is_named_as_such(tmp_path: Path) -> None:
    """Its experiment checked out elsewhere while the reproduction ran: reproduce ended
    with 'the new run logged no loss', the real reason only in a warning above."""
    code = "import gitlog\nwith gitlog.start() as run:\n    run.log_metric('loss', 0.5)\n"
    repo = make_repo(tmp_path / "project", {"train.py": code})
    assert run_cli("run", "-e", "base", "--", sys.executable, "train.py",
                   cwd=repo).returncode == 0
    other = tmp_path / "other"
    take = (f"import subprocess\nsubprocess.run(['git', 'worktree', 'add', '-q', {str(other)!r}, "
            "'exp/base'], check=True)\nexec(open('train.py').read())\n")
    proc = run_cli("reproduce", "base", "--", sys.executable, "-c", take, cwd=repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    error, hint = proc.stderr.splitlines()[-2:]
    assert error.startswith("Error: run ") and " of base not committed: " in error
    assert "its data is kept in " in error and "logged no" not in proc.stderr
    assert hint == f"hint: free the branch (git -C {other} checkout --detach), then run " \
                   "'gitlog recover' to commit the run"
    git(other, "checkout", "-q", "--detach")
    assert run_cli("recover", cwd=repo).returncode == 0
    assert git(repo, "show", "exp/base:.gitlog/metrics.json").count('"loss": 0.5') == 1

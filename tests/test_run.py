"""The Python API end to end: start, log, finish, and what lands in git."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import gitlog
from gitlog.errors import GitlogError, MetricValueError, NameError_
from tests.conftest import git, held_branch, make_repo, run_cli, run_python, state_of


def show_file(repo: Path, rev: str, path: str) -> str:
    return git(repo, "show", f"{rev}:{path}")


def test_run_commits_code_params_metrics_to_experiment_branch(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed, not committed')\n")
    with gitlog.start("baseline", params={"lr": 0.1, "optimizer": {"name": "sgd"}},
                      repo=repo) as run:
        for step in range(3):
            run.log_metric("train/loss", 1.0 / (step + 1))
        run.log_metrics({"accuracy": 0.9, "f1": 0.8}, step=2)
        run.info("epoch done", epoch=2)
    assert run.status == "completed"
    tip = git(repo, "rev-parse", "exp/baseline").strip()
    assert tip == run.commit
    # The code as it ran, uncommitted change included.
    assert show_file(repo, tip, "train.py") == "print('changed, not committed')\n"
    metrics = json.loads(show_file(repo, tip, ".gitlog/metrics.json"))
    assert metrics == {"train": {"loss": 1 / 3}, "accuracy": 0.9, "f1": 0.8, "step": 2}
    tsv = show_file(repo, tip, ".gitlog/metrics/train/loss.tsv").splitlines()
    assert tsv[0] == "timestamp\tstep\tloss"
    assert [line.split("\t")[1:] for line in tsv[1:]] == [["0", "1.0"], ["1", "0.5"],
                                                          ["2", "0.3333333333333333"]]
    assert "optimizer:\n  name: sgd" in show_file(repo, tip, ".gitlog/params.yaml")
    run_yaml = show_file(repo, tip, ".gitlog/run.yaml")
    head = git(repo, "rev-parse", "main").strip()
    assert f"code_commit: {head}" in run_yaml and "dirty: true" in run_yaml
    assert "status: completed" in run_yaml
    events = [json.loads(x) for x in show_file(repo, tip, ".gitlog/events.jsonl").splitlines()]
    assert events[0]["message"] == "epoch done" and events[0]["fields"] == {"epoch": 2}
    message = git(repo, "log", "-1", "--format=%B", tip)
    assert f"Gitlog-Run: {run.id}" in message and "Gitlog-Status: completed" in message
    assert f"Gitlog-Code: {head}" in message
    # First run of an experiment: its parent is the code commit.
    assert git(repo, "log", "-1", "--format=%P", tip).split() == [head]


def test_user_state_is_byte_identical_after_a_run(repo: Path) -> None:
    (repo / "train.py").write_text("print('work in progress')\n")
    (repo / "staged.py").write_text("x = 1\n")
    git(repo, "add", "staged.py")
    (repo / "notes.txt").write_text("untracked\n")
    (repo / "stashed.py").write_text("s = 1\n")
    git(repo, "add", "stashed.py")
    git(repo, "stash", "push", "-q", "--", "stashed.py")
    before = state_of(repo)
    with gitlog.start("exp1", repo=repo) as run:
        run.log_metric("loss", 0.5)
    assert state_of(repo) == before
    tree = git(repo, "ls-tree", "-r", "--name-only", run.commit).split()
    assert "staged.py" in tree and "notes.txt" not in tree


def test_second_run_follows_first_and_links_new_code(repo: Path) -> None:
    first = gitlog.start("exp", repo=repo)
    first.log_metric("loss", 1.0)
    first.finish()
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2")
    second = gitlog.start("exp", repo=repo)
    second.log_metric("loss", 0.5)
    second.finish()
    parents = git(repo, "log", "-1", "--format=%P", second.commit).split()
    assert parents == [first.commit, git(repo, "rev-parse", "main").strip()]
    third = gitlog.start("exp", repo=repo)
    third.finish()
    # The code commit is already an ancestor: no second parent.
    assert git(repo, "log", "-1", "--format=%P", third.commit).split() == [second.commit]


def test_exception_marks_failed_records_traceback_and_reraises(repo: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        with gitlog.start("crash", repo=repo) as run:
            run.log_metric("loss", 0.7)
            1 / 0
    assert run.status == "failed"
    run_yaml = show_file(repo, "exp/crash", ".gitlog/run.yaml")
    assert "status: failed" in run_yaml
    events = [json.loads(x) for x in
              show_file(repo, "exp/crash", ".gitlog/events.jsonl").splitlines()]
    error = [e for e in events if e["level"] == "error"][0]
    assert "ZeroDivisionError" in error["message"]
    assert "1 / 0" in error["fields"]["traceback"]
    assert json.loads(show_file(repo, "exp/crash", ".gitlog/metrics.json"))["loss"] == 0.7
    assert "[failed]" in git(repo, "log", "-1", "--format=%s", "exp/crash")


def test_keyboard_interrupt_marks_killed(repo: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with gitlog.start("ctrlc", repo=repo) as run:
            raise KeyboardInterrupt
    assert run.status == "killed"
    assert "status: killed" in show_file(repo, "exp/ctrlc", ".gitlog/run.yaml")


def test_nan_and_inf_are_recorded_with_one_warning_per_metric(repo: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with gitlog.start("diverged", repo=repo) as run:
            for _ in range(5):
                run.log_metric("loss", math.nan)
            run.log_metric("grad", math.inf)
            run.log_metric("grad", -math.inf)
    texts = [str(w.message) for w in caught if issubclass(w.category, gitlog.GitlogWarning)]
    assert len([t for t in texts if "'loss'" in t]) == 1
    assert len([t for t in texts if "'grad'" in t]) == 1
    metrics = json.loads(show_file(repo, "exp/diverged", ".gitlog/metrics.json"))
    assert math.isnan(metrics["loss"]) and metrics["grad"] == -math.inf
    tsv = show_file(repo, "exp/diverged", ".gitlog/metrics/grad.tsv").splitlines()
    assert [r.split("\t")[2] for r in tsv[1:]] == ["inf", "-inf"]


@pytest.mark.parametrize("name", ["a/../b", "/loss", "lo\nss", "x" * 300, "", "step", "a//b"])
def test_bad_metric_names_raise_and_keep_the_run(repo: Path, name: str) -> None:
    with gitlog.start("names", repo=repo) as run:
        run.log_metric("good", 1.0)
        with pytest.raises(NameError_):
            run.log_metric(name, 1.0)
        run.log_metric("good", 2.0)
    assert json.loads(show_file(repo, "exp/names", ".gitlog/metrics.json"))["good"] == 2.0


def test_a_non_ascii_metric_name_is_refused_saying_names_are_ascii() -> None:
    """'use letters, digits ...' read as if '損失' (letters) were fine."""
    from gitlog.names import check_metric

    with pytest.raises(NameError_) as info:
        check_metric("検証/損失")
    assert str(info.value) == ("invalid metric name '検証/損失': use ASCII letters, digits and "
                               "_ . - + = @ %, with '/' between groups")


@pytest.mark.parametrize("value", ["0.5", None, b"1", [1.0], 1 + 2j])
def test_non_numeric_metric_values_raise(repo: Path, value: object) -> None:
    with gitlog.start("values", repo=repo) as run:
        with pytest.raises(MetricValueError) as info:
            run.log_metric("loss", value)  # type: ignore[arg-type]
        assert isinstance(info.value, GitlogError) and info.value.metric == "loss"
        run.log_metric("loss", True)
    assert json.loads(show_file(repo, "exp/values", ".gitlog/metrics.json"))["loss"] == 1


def test_numpy_scalars_are_accepted(repo: Path) -> None:
    np = pytest.importorskip("numpy")
    with gitlog.start("np", repo=repo) as run:
        run.log_metric("loss", np.float32(0.25))
        run.log_metric("count", np.int64(7), step=np.int64(3))
        run.log_param("lr", np.float64(0.1))
    assert json.loads(show_file(repo, "exp/np", ".gitlog/metrics.json")) == \
        {"loss": 0.25, "count": 7, "step": 3}
    assert "lr: 0.1" in show_file(repo, "exp/np", ".gitlog/params.yaml")


def test_a_float32_metric_is_stored_as_the_number_it_prints(repo: Path) -> None:
    # np.float32(0.9) was stored as 0.8999999761581421, in metrics.json and the series
    np = pytest.importorskip("numpy")
    with gitlog.start("f32m", repo=repo) as run:
        run.log_metric("acc", np.float32(0.9))
        run.log_metrics({"acc": np.array([0.7], dtype=np.float32), "lr": np.float16(0.001),
                         "wide": np.float64(0.1) + np.float64(0.2)})
    assert json.loads(show_file(repo, "exp/f32m", ".gitlog/metrics.json")) == \
        {"acc": 0.7, "lr": 0.001, "wide": 0.30000000000000004, "step": 1}
    series = show_file(repo, "exp/f32m", ".gitlog/metrics/acc.tsv").splitlines()
    assert [line.split("\t")[1:] for line in series[1:]] == [["0", "0.9"], ["1", "0.7"]]


def test_params_of_every_type_read_back_as_logged(repo: Path) -> None:
    # dates and times were stored as their class name ("date", "datetime")
    import datetime as dt

    np = pytest.importorskip("numpy")
    params = {"opt": {"name": "sgd", "betas": [0.9, 0.99], "decay": None},
              "flags": {"on": True, "off": False}, "np_f": np.float32(0.5),
              "np_i": np.int64(3), "grid": np.arange(3), "word": "1e3", "pair": (1, "a"),
              "since": dt.date(2024, 1, 31), "at": dt.datetime(2024, 1, 31, 12, 30),
              "cutoff": dt.time(6, 0)}
    with gitlog.start("types", params=params, repo=repo) as run:
        run.log_param("data.snapshot", dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc))
    shown = json.loads(run_cli("show", "types", "--format", "json", cwd=repo).stdout)
    assert shown["params"] == {
        "opt": {"name": "sgd", "betas": [0.9, 0.99], "decay": None},
        "flags": {"on": True, "off": False}, "np_f": 0.5, "np_i": 3, "grid": [0, 1, 2],
        "word": "1e3", "pair": [1, "a"], "since": "2024-01-31", "at": "2024-01-31T12:30:00",
        "cutoff": "06:00:00", "data": {"snapshot": "2024-02-01T00:00:00+00:00"}}
    assert run_cli("run", "-e", "cli", "-p", "since=2024-01-31", "--", "true",
                   cwd=repo).returncode == 0
    assert show_file(repo, "exp/cli", ".gitlog/params.yaml") == "since: '2024-01-31'\n"


def test_a_float32_param_is_stored_as_the_number_it_prints(repo: Path) -> None:
    # np.float32(0.1) was stored as 0.10000000149011612: `--where 'params.lr == 0.1'`
    # missed the run, and compare, show and `dvc params diff` printed the long number
    np = pytest.importorskip("numpy")
    params = {"lr": np.float32(0.1), "eps": np.float16(0.001), "max": np.float32(3.4e38),
              "tiny": np.float32(1e-45), "grid": np.array([0.1, 0.7], dtype=np.float32),
              "wide": np.float64(0.1) + np.float64(0.2)}
    with gitlog.start("f32", params=params, repo=repo) as run:
        run.log_metric("loss", 0.5)
    assert show_file(repo, "exp/f32", ".gitlog/params.yaml") == (
        "eps: 0.001\ngrid:\n- 0.1\n- 0.7\nlr: 0.1\nmax: 3.4e+38\ntiny: 1.0e-45\n"
        "wide: 0.30000000000000004\n")
    best = run_cli("best", "--metric", "loss", "--where", "params.lr == 0.1", "--format",
                   "json", cwd=repo)
    assert [row["commit"] for row in json.loads(best.stdout)] == [run.commit[:10]]


def test_params_yaml_reads_the_same_in_yaml_1_1(repo: Path) -> None:
    # 'yes', 'off' were written plain: PyYAML and OmegaConf (YAML 1.1) read True, False
    yaml = pytest.importorskip("yaml")
    params = {"shrinking": "yes", "norm": "off", "mode": {"list": ["No", "on", "y"]},
              "flag": True, "name": "sgd"}
    with gitlog.start("yaml11", params=params, repo=repo):
        pass
    text = show_file(repo, "exp/yaml11", ".gitlog/params.yaml")
    assert yaml.safe_load(text) == params
    shown = json.loads(run_cli("show", "yaml11", "--format", "json", cwd=repo).stdout)
    assert shown["params"] == params


def test_params_yaml_numbers_and_times_read_the_same_in_yaml_1_1(repo: Path) -> None:
    """lr=1e-05 was written '1e-05', a string to PyYAML (YAML 1.1 floats need a '.'): a
    script that loaded params.yaml to train again got lr='1e-05'; '10:30' and '16:9'
    were written plain, base-60 numbers to PyYAML and OmegaConf (630, 969)."""
    yaml = pytest.importorskip("yaml")
    params = {"lr": 1e-05, "big": 3e+20, "eps": -2e-10, "wd": 1.5e-07,
              "start": "10:30", "ratio": "16:9", "version": "1.2.3"}
    with gitlog.start("yaml11n", params=params, repo=repo):
        pass
    text = show_file(repo, "exp/yaml11n", ".gitlog/params.yaml")
    assert text == ("big: 3.0e+20\neps: -2.0e-10\nlr: 1.0e-05\nratio: '16:9'\n"
                    "start: '10:30'\nversion: 1.2.3\nwd: 1.5e-07\n")
    assert yaml.safe_load(text) == params
    shown = json.loads(run_cli("show", "yaml11n", "--format", "json", cwd=repo).stdout)
    assert shown["params"] == params


def test_metric_name_that_is_also_a_group_is_refused(repo: Path) -> None:
    with gitlog.start("clash", repo=repo) as run:
        run.log_metric("train/loss", 1.0)
        with pytest.raises(NameError_, match="clashes"):
            run.log_metric("train", 1.0)


def test_a_default_experiment_name_that_cannot_be_one_says_where_it_came_from(
        repo: Path) -> None:
    # python main.py with gitlog.start(): the name 'main' was refused as a branch's name
    # with no word on where it came from or how to give another
    import sys

    (repo / "main.py").write_text("import gitlog\nwith gitlog.start() as run:\n"
                                  "    print('training')\n")
    hint = ("hint: name the experiment: gitlog.start(NAME), GITLOG_EXPERIMENT=NAME or "
            "'experiment: NAME' in .gitlog.yaml")
    for env, source in (({}, "the script's name (main.py)"),
                        ({"GITLOG_EXPERIMENT": "main"}, "GITLOG_EXPERIMENT")):
        proc = subprocess.run([sys.executable, "main.py"], cwd=repo, capture_output=True,
                              text=True, env={**os.environ, **env})
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.splitlines()[-2:] == [
            "gitlog.errors.GitlogError: invalid experiment name 'main': git reads it as "
            "another revision (a branch, tag or commit); it is the default experiment name, "
            f"from {source}", hint]
    (repo / ".gitlog.yaml").write_text("experiment: main\n")
    with pytest.raises(GitlogError) as caught:
        gitlog.start(repo=repo)
    assert str(caught.value).endswith("from 'experiment:' in .gitlog.yaml")
    assert f"hint: {caught.value.hint}" == hint
    with pytest.raises(NameError_) as named:  # a name given here is the caller's own
        gitlog.start("main", repo=repo)
    assert "default" not in str(named.value)


def test_gitlog_run_without_e_names_the_experiment_after_the_command_s_script(
        repo: Path) -> None:
    # it took gitlog's own script name: experiment 'gitlog' (or '__main__' under
    # python -m gitlog) for every command
    import sys

    (repo / "main.py").write_text("print('hi')\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "fit.py").write_text("print('fit')\n")
    for command, name in (([sys.executable, "train.py"], "train"),
                          ([sys.executable, "-m", "pkg.fit"], "fit"), (["true"], "true")):
        done = run_cli("run", "--", *command, cwd=repo)
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith("gitlog: run ") and f" of {name}: completed" in \
            done.stderr
    assert git(repo, "branch", "--list", "exp/*", "--format=%(refname:short)").split() == [
        "exp/fit", "exp/train", "exp/true"]
    refused = run_cli("run", "--", sys.executable, "main.py", cwd=repo)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "Error: invalid experiment name 'main': git reads it as another revision (a branch, "
        "tag or commit); it is the default experiment name, from the script's name "
        "(main.py)\nhint: name the experiment: gitlog run -e NAME, GITLOG_EXPERIMENT=NAME or "
        "'experiment: NAME' in .gitlog.yaml\n")


@pytest.mark.parametrize("name", ["has space", "a..b", "x~y", "-", "end.", "a.lock", ".hidden"])
def test_invalid_experiment_name_fails_before_training(repo: Path, name: str) -> None:
    # ('-' is a valid branch component, but typed where a revision goes it reads as an
    # option: a new experiment cannot take it)
    with pytest.raises(NameError_, match="invalid experiment name"):
        gitlog.start(name, repo=repo)
    runs = repo / ".git" / "gitlog" / "runs"
    assert not runs.exists() or not list(runs.iterdir())


def test_experiment_names_agree_with_git_check_ref_format(repo: Path) -> None:
    from gitlog.names import ref_component_problem

    names = ["ok", "a/b", "a b", "a..b", "a@{b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a~b",
             "a^b", "a.", "a/.b", "a.lock", "a//b", "/a", "a/", "@", "ünï", "q'uote", "$(x);y"]
    for name in names:
        valid_git = subprocess.run(["git", "check-ref-format",
                                    f"refs/heads/exp/{name}"]).returncode == 0
        assert (ref_component_problem(name) is None) == valid_git, name


def test_repo_without_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "empty", files={"train.py": "x"}, commit=False)
    with gitlog.start("first", repo=repo) as run:
        run.log_metric("loss", 1.0)
    assert git(repo, "log", "-1", "--format=%P", run.commit).strip() == ""
    assert git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False) == ""
    assert "Gitlog-Code: none" in git(repo, "log", "-1", "--format=%B", run.commit)


def test_detached_head_subfolder_and_script_default_name(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "model.py").write_text("m = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add src")
    git(repo, "checkout", "-q", "--detach")
    run = gitlog.start(repo=repo / "src")
    run.finish()
    assert run.experiment  # the script's name (pytest's), made branch-safe
    assert git(repo, "rev-parse", f"exp/{run.experiment}").strip() == run.commit
    assert "src/model.py" in git(repo, "ls-tree", "-r", "--name-only", run.commit)


def test_linked_worktree(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(wt))
    (wt / "train.py").write_text("print('in worktree')\n")
    before = state_of(wt)
    with gitlog.start("wt", repo=wt) as run:
        run.log_metric("loss", 0.1)
    assert state_of(wt) == before
    assert git(repo, "show", "exp/wt:train.py") == "print('in worktree')\n"
    assert "code_branch: feature" in git(repo, "show", "exp/wt:.gitlog/run.yaml")


def test_run_onto_a_branch_checked_out_in_another_worktree_is_refused(repo: Path,
                                                                      tmp_path: Path) -> None:
    with gitlog.start("held", repo=repo) as first:
        first.log_metric("loss", 1.0)
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", str(other), "exp/held")
    before = state_of(other)
    done = run_cli("run", "-e", "held", "--", sys.executable, "-c", "print(1)", cwd=repo)
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: cannot log a run onto exp/held from here: it is checked out in another "
        f"worktree, {other} (moving it would leave the files and index there behind "
        f"exp/held)\nhint: free the branch (git -C {other} checkout --detach), or run it in "
        f"that worktree (cd {other}), where its logs land in the working tree\n")
    assert git(repo, "rev-parse", "exp/held").strip() == first.commit
    assert state_of(other) == before
    assert git(other, "status", "--porcelain") == ""


def test_branch_checked_out_during_the_run_is_left_alone_until_freed(
        repo: Path, tmp_path: Path) -> None:
    with gitlog.start("busy", repo=repo) as first:
        first.log_metric("loss", 1.0)
    run = gitlog.start("busy", repo=repo)
    run.log_metric("loss", 0.5)
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", str(other), "exp/busy")
    with pytest.warns(gitlog.GitlogWarning) as caught:
        assert run.finish() is None
    why, fix = held_branch("busy", other)
    assert str(caught[0].message) == (
        f"gitlog: could not commit run {run.id}: {why}. Its data is kept in "
        f"{repo}/.git/gitlog/runs/{run.id}; {fix}")
    assert git(repo, "rev-parse", "exp/busy").strip() == first.commit
    assert git(other, "status", "--porcelain") == ""
    held = run_cli("recover", "--format", "csv", cwd=repo)
    assert held.returncode == 1
    assert held.stderr == f"Error: run {run.id} of busy not recovered: {why}\nhint: {fix}\n"
    git(other, "checkout", "-q", "--detach")
    assert run_cli("recover", cwd=repo).returncode == 0
    assert git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Run,valueonly)",
               "exp/busy").strip() == run.id


def test_experiment_given_as_its_branch_name(repo: Path) -> None:
    # 'gitlog run -e exp/held' said the runs of exp/held were on a remote ('project/held')
    with gitlog.start("held", repo=repo) as first:
        first.log_metric("loss", 1.0)
    done = run_cli("run", "-e", "exp/held", "--", sys.executable, "-c", "print(1)", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(repo, "rev-parse", "exp/held^").strip() == first.commit
    with gitlog.start("exp/fresh", repo=repo) as run:
        run.log_metric("loss", 0.5)
    assert run.experiment == "fresh"
    assert git(repo, "branch", "--list", "exp/*", "--format=%(refname:short)").split() == [
        "exp/fresh", "exp/held"]


def test_a_mistyped_option_of_run_is_a_usage_error_not_the_command(repo: Path) -> None:
    # 'gitlog run -e x --sytem-metrics -- python train.py' said 'command not found:
    # --sytem-metrics', as if the option were the program
    proc = run_cli("run", "-e", "typo", "--sytem-metrics", "--", sys.executable, "-c",
                   "print(1)", cwd=repo)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == \
        "Error: No such option '--sytem-metrics'. Did you mean '--system-metrics'?"
    assert proc.stderr.splitlines()[1:] == ["hint: gitlog run --help shows the usage"]
    assert git(repo, "branch", "--list", "exp/typo").strip() == ""


def test_start_with_bad_params_leaves_no_run_behind(repo: Path) -> None:
    # start() raised, but its run stayed active and its journal stayed for 'gitlog
    # recover' to commit as a run nobody made
    for params in ([("lr", 0.1)], {"": 1}):
        with pytest.raises(GitlogError):
            gitlog.start("phantom", params=params, repo=repo)  # type: ignore[arg-type]
    with pytest.raises(GitlogError, match="no active run"):
        gitlog.log_metric("loss", 1.0)
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())
    assert run_cli("recover", cwd=repo).stderr == "gitlog: nothing to recover\n"
    assert git(repo, "branch", "--list", "exp/*") == ""


FORK_CHILD_EXITS = """import os, sys, gitlog
run = gitlog.start("forked", flush_interval=60)
run.log_metric("loss", 1.0)
pid = os.fork()
if pid == 0:
    if sys.argv[1] == "raise":
        raise ValueError("in the child")  # sys.excepthook runs, in the child
    sys.exit(0)  # a child that ends normally runs the atexit handlers it inherited
os.waitpid(pid, 0)
run.log_metric("loss", 0.5)
run.finish()
"""


def test_a_forked_child_that_exits_leaves_the_run_to_its_parent(repo: Path) -> None:
    # the child finished the parent's run at exit: a status record, a copy of the
    # buffered points in the journal, and the parent's commit failed
    (repo / "fork.py").write_text(FORK_CHILD_EXITS)
    for how in ("exit", "raise"):
        done = subprocess.run([sys.executable, "fork.py", how], cwd=repo, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "GitlogWarning" not in done.stderr
        assert ("ValueError: in the child" in done.stderr) == (how == "raise")
        rows = show_file(repo, "exp/forked", ".gitlog/metrics/loss.tsv").splitlines()[1:]
        assert [row.split("\t")[1:] for row in rows] == [["0", "1.0"], ["1", "0.5"]]
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())


FORK_CHILD_LOGS = """import os, warnings, gitlog
warnings.simplefilter("default")  # the suite sets PYTHONWARNINGS=ignore
run = gitlog.start("forklog", flush_interval=60)
run.log_metric("loss", 1.0)
pid = os.fork()
if pid == 0:  # a DataLoader worker logging from its Dataset
    for i in range(3):
        run.log_metric("worker/item", i)
    with gitlog.start("own") as mine:  # a run of the child's own still logs
        mine.log_metric("child", 2.0)
    os._exit(0)
os.waitpid(pid, 0)
run.log_metric("loss", 0.5)
run.finish()
"""


def test_a_point_logged_in_a_forked_child_warns_once_and_leaves_the_run_alone(
        repo: Path) -> None:
    # points logged in a forked worker went into its copy of the buffer and vanished
    # with it, without a word
    (repo / "forklog.py").write_text(FORK_CHILD_LOGS)
    done = subprocess.run([sys.executable, "forklog.py"], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "GitlogWarning" in line]
    assert len(warned) == 1
    assert "metric 'worker/item' logged in a forked child process" in warned[0]
    assert "is not recorded" in warned[0]
    assert json.loads(show_file(repo, "exp/forklog", ".gitlog/metrics.json")) == \
        {"loss": 0.5, "step": 1}
    assert json.loads(show_file(repo, "exp/own", ".gitlog/metrics.json")) == \
        {"child": 2.0, "step": 0}


def test_logging_with_no_run_in_the_process_says_how_a_worker_joins_one() -> None:
    # a torch.multiprocessing.spawn worker got 'no active run', hint 'call gitlog.start()
    # first', though its parent had started one: nothing said how workers share it
    with pytest.raises(GitlogError) as refused:
        gitlog.log_metric("w/loss", 0.5)
    assert str(refused.value) == "no active run in this process"
    assert refused.value.hint == ("call gitlog.start() first; in a spawned worker too, and "
                                  "run the script with 'gitlog run' to log every process "
                                  "into one run")


def test_no_identity_configured_falls_back(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("EMAIL", "")
    with gitlog.start("noid", repo=repo) as run:
        run.log_metric("loss", 1.0)
    assert run.commit
    author = git(repo, "log", "-1", "--format=%an <%ae>", run.commit).strip()
    assert author == "gitlog <gitlog@localhost>" or "@" in author


def test_workspace_mode_writes_log_dir_into_working_tree(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "exp/ws")
    head_before = git(repo, "rev-parse", "HEAD")
    with gitlog.start(repo=repo) as run:
        run.log_metric("loss", 0.3)
    assert run.mode == "workspace" and run.commit is None
    assert json.loads((repo / ".gitlog" / "metrics.json").read_text())["loss"] == 0.3
    assert git(repo, "rev-parse", "HEAD") == head_before
    assert git(repo, "--no-optional-locks", "status", "--porcelain").strip().startswith("??")
    (repo / "made").mkdir()  # the folder has the mode any new folder gets (it was 0700)
    assert (repo / ".gitlog").stat().st_mode == (repo / "made").stat().st_mode
    # A second run replaces the folder's contents.
    with gitlog.start(repo=repo) as run2:
        run2.log_metric("acc", 0.9)
    assert json.loads((repo / ".gitlog" / "metrics.json").read_text()) == {"acc": 0.9, "step": 0}


def test_workspace_run_keeps_the_users_files_in_the_log_folder(repo: Path) -> None:
    """A new run in the working tree used to replace the whole .gitlog/ folder: a note
    the user had committed there, an untracked file, were deleted."""
    git(repo, "checkout", "-q", "-b", "exp/ws")
    with gitlog.start(repo=repo) as run:
        run.log_metrics({"loss": 1.0, "old/series": 5.0})
        run.log_data(name="train", samples=10)
    log = repo / ".gitlog"
    (log / "notes.md").write_text("lr 0.1 diverges\n")
    git(repo, "add", ".gitlog")
    git(repo, "commit", "-qm", "first run, with notes")
    (log / "mine").mkdir()
    (log / "mine" / "ckpt.txt").write_text("untracked\n")
    (log / "metrics" / "README.md").write_text("series by step\n")
    with gitlog.start(repo=repo) as run2:
        run2.log_metric("loss", 0.5)
    assert run2.mode == "workspace"
    files = sorted(p.relative_to(log).as_posix() for p in log.rglob("*") if p.is_file())
    # the user's files stay; the first run's series and data.yaml, which this run did not
    # write, are gone with their emptied folder, so none passes for this run's
    assert files == ["events.jsonl", "metrics.json", "metrics/README.md", "metrics/loss.tsv",
                     "mine/ckpt.txt", "notes.md", "params.yaml", "run.yaml"]
    assert (log / "notes.md").read_text() == "lr 0.1 diverges\n"
    assert (log / "mine" / "ckpt.txt").read_text() == "untracked\n"
    assert json.loads((log / "metrics.json").read_text()) == {"loss": 0.5, "step": 0}
    assert f"id: {run2.id}" in (log / "run.yaml").read_text()
    status = git(repo, "--no-optional-locks", "status", "--porcelain", "--", ".gitlog")
    assert " D .gitlog/notes.md" not in status and " D .gitlog/data.yaml" in status


def test_a_run_commit_keeps_the_users_files_of_the_log_folder(repo: Path) -> None:
    """A workspace run committed onto its branch (HEAD left it during the run) dropped the
    notes the branch had in .gitlog/; checking the branch out again deleted them."""
    git(repo, "checkout", "-q", "-b", "exp/ws")
    with gitlog.start(repo=repo) as run:
        run.log_metrics({"loss": 1.0, "old/series": 5.0})
    (repo / ".gitlog" / "notes.md").write_text("lr 0.1 diverges\n")
    (repo / ".gitlog" / "sub").mkdir()
    (repo / ".gitlog" / "sub" / "plan.txt").write_text("next: lr 0.05\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first run, with notes")
    run2 = gitlog.start(repo=repo)
    run2.log_metric("loss", 0.5)
    git(repo, "checkout", "-q", "main")
    assert run2.finish() == run2.commit
    listed = git(repo, "ls-tree", "-r", "--name-only", run2.commit, "--", ".gitlog")
    assert listed.split() == [".gitlog/events.jsonl", ".gitlog/metrics.json",
                              ".gitlog/metrics/loss.tsv", ".gitlog/notes.md",
                              ".gitlog/params.yaml", ".gitlog/run.yaml",
                              ".gitlog/sub/plan.txt"]
    assert show_file(repo, run2.commit, ".gitlog/notes.md") == "lr 0.1 diverges\n"


def test_workspace_run_onto_a_file_named_like_the_log_folder_keeps_it(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "exp/ws")
    (repo / ".gitlog").write_text("my file\n")
    run = gitlog.start(repo=repo)
    run.log_metric("loss", 0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run.finish() is None
    assert (repo / ".gitlog").read_text() == "my file\n"
    [warning] = [str(w.message) for w in caught if "could not commit" in str(w.message)]
    assert "is a file, not the log folder the run writes into" in warning
    assert "move it away, then run 'gitlog recover'" in warning


def test_workspace_run_whose_branch_was_left_is_committed_onto_it(repo: Path) -> None:
    # the run's logs landed in the working tree of whatever branch HEAD had moved to
    # (main here), to be committed there by mistake
    git(repo, "checkout", "-q", "-b", "exp/ws")
    tip = git(repo, "rev-parse", "HEAD").strip()
    run = gitlog.start(repo=repo)
    run.log_metric("loss", 0.3)
    git(repo, "checkout", "-q", "main")
    before = state_of(repo)
    assert run.finish() == run.commit
    assert state_of(repo) == before and not (repo / ".gitlog").exists()
    assert git(repo, "rev-parse", "exp/ws^").strip() == tip
    assert git(repo, "rev-parse", "exp/ws").strip() == run.commit
    assert json.loads(show_file(repo, "exp/ws", ".gitlog/metrics.json"))["loss"] == 0.3


def test_recover_of_a_workspace_run_after_a_checkout_commits_it(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "exp/ws")
    (repo / "die.py").write_text("import os, signal, gitlog\nrun = gitlog.start()\n"
                                 "run.log_metric('loss', 0.3)\nrun.flush()\n"
                                 "os.kill(os.getpid(), signal.SIGKILL)\n")
    git(repo, "add", "die.py")
    git(repo, "commit", "-qm", "die")
    subprocess.run([sys.executable, "die.py"], cwd=repo, check=False)
    git(repo, "checkout", "-q", "main")
    before = state_of(repo)
    done = run_cli("recover", "--format", "csv", cwd=repo)
    assert done.returncode == 0, done.stderr
    tip = git(repo, "rev-parse", "exp/ws").strip()
    assert done.stdout.splitlines()[1].split(",")[2:5] == ["committed", "killed", tip]
    assert state_of(repo) == before and not (repo / ".gitlog").exists()
    assert json.loads(show_file(repo, tip, ".gitlog/metrics.json"))["loss"] == 0.3


def test_module_level_functions_act_on_active_run(repo: Path) -> None:
    with pytest.raises(GitlogError, match="no active run"):
        gitlog.log_metric("loss", 1.0)
    run = gitlog.start("mod", repo=repo)
    gitlog.log_metric("loss", 0.4)
    gitlog.log_params({"batch": 32})
    gitlog.warning("careful", step=5)
    gitlog.finish()
    assert json.loads(show_file(repo, run.commit, ".gitlog/metrics.json"))["loss"] == 0.4
    event = json.loads(show_file(repo, run.commit, ".gitlog/events.jsonl").splitlines()[0])
    assert event["level"] == "warning" and event["step"] == 5


def test_logging_after_finish_raises(repo: Path) -> None:
    run = gitlog.start("done", repo=repo)
    run.log_metric("loss", 1.0)
    run.finish()
    with pytest.raises(GitlogError, match="finished"):
        run.log_metric("other", 1.0)
    # a metric or an event logged after the end vanished without a word
    for late in (lambda: run.log_metric("loss", 0.5), lambda: run.info("late"),
                 lambda: run.log_metrics({"loss": 0.25}, step=3)):
        with pytest.raises(GitlogError) as caught:
            late()
        assert (str(caught.value), caught.value.hint) == (
            f"run {run.id} is finished; start a new run to log more",
            "log inside the 'with gitlog.start(...)' block, or before run.finish()")


def test_negative_or_non_integer_steps_are_refused_for_points_and_events(repo: Path) -> None:
    # step=-1 went into the TSV (while step=2.0 was refused), an event took step='x'
    with gitlog.start("steps", repo=repo) as run:
        for bad in (lambda: run.log_metric("loss", 1.0, step=-1),
                    lambda: run.info("epoch", step="x"),
                    lambda: run.warning("epoch", step=-2)):
            with pytest.raises(GitlogError) as caught:
                bad()
            assert caught.value.hint == "pass step=epoch (an int), or leave it out"
        run.log_metric("loss", 0.5, step=2)
        run.info("epoch done", step=2)
    assert show_file(repo, run.commit, ".gitlog/metrics/loss.tsv").splitlines()[1] \
        .split("\t")[1:] == ["2", "0.5"]
    event = json.loads(show_file(repo, run.commit, ".gitlog/events.jsonl"))
    assert (event["message"], event["step"]) == ("epoch done", 2)


def test_level_threshold_from_environment(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLOG_LEVEL", "warning")
    with gitlog.start("lvl", repo=repo) as run:
        run.debug("hidden")
        run.info("hidden too")
        run.error("shown")
    lines = show_file(repo, run.commit, ".gitlog/events.jsonl").splitlines()
    assert [json.loads(x)["message"] for x in lines] == ["shown"]


def test_not_a_repo_gives_git_init_hint(tmp_path: Path) -> None:
    with pytest.raises(GitlogError) as info:
        gitlog.start("x", repo=tmp_path)
    assert "not a git repository" in str(info.value) and "git init" in info.value.hint


def test_a_gitlog_error_in_a_training_script_shows_its_hint(repo: Path) -> None:
    # the traceback said "DVC is not set up in ..." and nothing of the fix the CLI gives
    (repo / "model.pkl").write_bytes(b"weights")
    (repo / "fit.py").write_text("import gitlog\nwith gitlog.start('art') as run:\n"
                                 "    run.log_artifact('model.pkl')\n")
    proc = subprocess.run([sys.executable, "fit.py"], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-2:] == [
        f"gitlog.artifacts.DvcMissingError: DVC is not set up in {repo}",
        "hint: run 'gitlog init' (it runs 'dvc init'), then commit .dvc/"]
    events = [json.loads(x) for x in show_file(repo, "exp/art", ".gitlog/events.jsonl")
              .splitlines()]
    assert events[0]["fields"]["traceback"].endswith(
        "DvcMissingError: DVC is not set up in "
        f"{repo}\nhint: run 'gitlog init' (it runs 'dvc init'), then commit .dvc/\n")


def test_a_run_the_script_never_finishes_is_committed_at_exit(repo: Path) -> None:
    proc = run_python("import gitlog\nrun = gitlog.start('forgot')\n"
                      "run.log_metric('loss', 0.5)\nprint(run.id)\n", repo,
                      env={"PYTHONWARNINGS": "default"})
    assert proc.returncode == 0 and proc.stderr == ""
    run_yaml = git(repo, "show", "exp/forgot:.gitlog/run.yaml")
    assert f"id: {proc.stdout.strip()}" in run_yaml and "status: completed" in run_yaml
    assert json.loads(git(repo, "show", "exp/forgot:.gitlog/metrics.json"))["loss"] == 0.5
    assert not list((repo / ".git/gitlog/runs").glob("*"))  # nothing left to recover


@pytest.mark.parametrize("name", ["warn", "WARN", "Warning", " warning "])
def test_level_threshold_takes_logging_s_spellings(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                   name: str) -> None:
    # 'warn' was refused: logging takes WARN (and any case) for WARNING
    monkeypatch.setenv("GITLOG_LEVEL", name)
    with gitlog.start("lvl", repo=repo) as run:
        run.info("hidden")
        run.log("WARN", "shown")
    lines = show_file(repo, run.commit, ".gitlog/events.jsonl").splitlines()
    assert [(e["level"], e["message"]) for e in map(json.loads, lines)] == [("warning", "shown")]


def test_an_unknown_level_names_the_valid_ones(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLOG_LEVEL", "verbose")
    with pytest.raises(GitlogError) as caught:
        gitlog.start("lvl", repo=repo)
    assert str(caught.value) == "unknown log level 'verbose' (from GITLOG_LEVEL)"
    assert caught.value.hint == ("use one of debug, info, warning, error, critical "
                                 "(any case; warn, fatal, notset too)")


def test_a_param_name_with_an_empty_part_is_refused(repo: Path) -> None:
    # 'a..b' and 'a.' stored a '' key ({'a': {'': 1}}) that no --where can name
    with gitlog.start("p", repo=repo) as run:
        for name in ("a..b", "a.", ".a"):
            with pytest.raises(NameError_) as caught:
                run.log_param(name, 1)
            assert str(caught.value) == f"invalid param name {name!r}: a dot with no name " \
                                        "on one side"
            assert caught.value.hint == "dots nest: write it like optimizer.lr"
        run.log_param("a.b", 1)
    assert show_file(repo, run.commit, ".gitlog/params.yaml") == "a:\n  b: 1\n"

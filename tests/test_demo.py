"""`gitlog demo` builds a real repository with real training runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from gitlog.demo import gitlog_command
from tests.conftest import git, run_cli


def test_suggested_commands_run_this_gitlog_when_it_is_not_on_path(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `make demo` runs .venv/bin/gitlog with .venv/bin not on PATH: the demo's "Next:"
    # line said 'gitlog ls', which the user's shell then could not find.
    script = Path(sys.executable).with_name("gitlog")
    assert script.is_file()  # the suite runs from an installed environment
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gitlog_command() == str(script)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{script.parent}")
    assert gitlog_command() == "gitlog"
    other = tmp_path / "gitlog"  # another installation's gitlog first on PATH
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert gitlog_command() == str(script)


@pytest.mark.slow
def test_demo_without_git_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)
    target = tmp_path / "my demo"
    # gitlog on PATH, as in an activated environment: the line says plain 'gitlog'
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    proc = run_cli("demo", str(target), cwd=tmp_path, env={"PATH": path}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # The line to copy works in a shell (it printed 'cd /tmp/.../my demo && ...').
    assert f"\nNext: cd '{target}' && gitlog ls && gitlog show baseline\n" in proc.stdout
    assert "baseline" in proc.stdout and "high-lr" in proc.stdout
    # It ends by showing how the loss moved: gitlog history --metric loss --all.
    start = proc.stdout.index("$ gitlog history --metric loss --all")
    deployed = proc.stdout.index("$ gitlog history --metric error_rate --metric "
                                 "latency_ms/p99 deploy/breast-cancer")
    tail = proc.stdout[start:deployed].splitlines()
    assert tail[1].startswith("loss  ") and "over 4 runs (lower is better)" in tail[1]
    assert len(tail) == 1 + 1 + 1 + 2 + 4 + 1 and "train.py" in tail[-4]
    # Then the model of high-lr served two windows of requests (serve.py): the second
    # one's truncated rows are errors, 1 in 20.
    windows = json.loads(run_cli("history", "--metric", "error_rate", "deploy/breast-cancer",
                                 "--format", "json", cwd=target).stdout)
    assert [(w["experiment"], w["error_rate"], w["error_rate_verdict"]) for w in windows] == \
        [("deploy/breast-cancer", 0, None), ("deploy/breast-cancer", 0.05, "worse")]
    served = json.loads(run_cli("show", "deploy/breast-cancer", "--format", "json",
                                cwd=target).stdout)
    assert served["params"]["model"]["run"] == rows_run_id(target, "high-lr")
    errors = json.loads(run_cli("logs", "deploy/breast-cancer", "--level", "error", "--format",
                                "json", cwd=target).stdout)
    assert [e["message"] for e in errors] == ["ValueError: expected 30 features, got 20"] * 5
    rows = json.loads(run_cli("ls", "--format", "json", cwd=target).stdout)
    assert [r["experiment"] for r in rows] == ["baseline", "high-lr"]
    assert sum(r["runs"] for r in rows) >= 3
    # The code change between the two baseline runs moved the loss down.
    first, second = git(target, "rev-list", "--reverse", "exp/baseline", "--",
                        ".gitlog/run.yaml").split()
    loss = [json.loads(git(target, "show", f"{c}:.gitlog/metrics.json"))["loss"]
            for c in (first, second)]
    assert loss[1] < loss[0] / 10
    code_diff = git(target, "diff", "--stat", first, second, "--", "train.py")
    assert "train.py" in code_diff
    shown = json.loads(run_cli("show", "baseline", "--format", "json", cwd=target).stdout)
    assert shown["model"]["model"]["type"] == "sklearn.linear_model.SGDClassifier"
    assert shown["data"]["breast_cancer"]["samples"] == 569
    assert git(target, "status", "--porcelain") == ""


def rows_run_id(repo: Path, experiment: str) -> str:
    """The run id of the experiment's latest run."""
    shown = json.loads(run_cli("show", experiment, "--format", "json", cwd=repo).stdout)
    return shown["run"]["run"]


def test_demo_into_a_file_is_one_error_with_the_fix(tmp_path: Path) -> None:
    """'gitlog demo FILE' was click's usage error (exit 2, "Invalid value for
    '[DIRECTORY]': Directory 'notes.txt' is a file."), and a folder under a file an
    unexpected NotADirectoryError (exit 3); a non-empty folder was already gitlog's
    one-line error with the fix."""
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    hint = "hint: pass a new folder: gitlog demo DIR\n"
    for target, error in (
            ("notes.txt", "notes.txt is a file, not a folder"),
            ("notes.txt/demo", "notes.txt is a file, not a folder: notes.txt/demo cannot be "
                               "made in it"),
            ("full", "full exists and is not empty")):
        proc = run_cli("demo", target, cwd=tmp_path)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"Error: {error}\n{hint}")
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "notes.txt"]

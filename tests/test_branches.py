"""Experiment names in a fresh clone: they stand for the remote-tracking branches, as
``git checkout NAME`` guesses, in every command; ``ls`` and ``exp list`` show them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, run_cli, run_python
from tests.test_history import history_json, two_experiments


@pytest.fixture
def clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A clone of a bare remote holding main, exp/a and exp/b: no local exp/ branches."""
    shas = two_experiments(tmp_path / "proj")
    origin = tmp_path / "origin.git"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(origin))
    git(tmp_path / "proj", "push", "-q", str(origin), "main", "exp/a", "exp/b")
    git(tmp_path, "clone", "-q", str(origin), "clone")
    return tmp_path / "clone", shas


def cli_json(repo: Path, *args: str) -> object:
    proc = run_cli(*args, "--format", "json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_names_resolve_to_the_remote_tracking_branch_in_a_fresh_clone(
        clone: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, c = clone
    assert git(repo, "branch", "--list", "exp/*") == ""
    rows = cli_json(repo, "ls")
    assert [(r["experiment"], r["branch"], r["runs"]) for r in rows] == \
        [("a", "origin/exp/a", 4), ("b", "origin/exp/b", 2)]
    listed = cli_json(repo, "exp", "list")
    assert [(r["name"], r["branch"], r["current"]) for r in listed] == \
        [("a", "origin/exp/a", False), ("b", "origin/exp/b", False)]
    # the same rows as in the repository the runs were logged in, by name or exp/NAME
    assert history_json(repo, "-m", "loss", "a") == \
        history_json(tmp_path / "proj", "-m", "loss", "a")
    assert [r["commit"] for r in history_json(repo, "-m", "loss", "exp/b")] == \
        [c["b1"][:10], c["b2"][:10]]
    assert cli_json(repo, "show", "b")["run"]["run"] == "b2"
    labels = [r["label"] for r in cli_json(repo, "compare", "a", "b")["runs"]]
    assert labels == [f"{c['a4'][:10]} (a)", f"{c['b2'][:10]} (b)"]
    blame = run_cli("blame", "-m", "loss", "a", cwd=repo)
    assert blame.returncode == 0, blame.stderr
    bisect = run_cli("bisect", "-m", "nosuch", "--threshold", "1", "--good", c["a1"],
                     "--bad", "a", "--", "true", cwd=repo)  # a is found; the metric is not
    assert bisect.stderr.splitlines()[0] == \
        "Error: no run of --good or --bad has the metric nosuch"
    for command in (["exp", "rm", "b", "--yes"], ["exp", "promote", "b"], ["push", "b"]):
        refused = run_cli(*command, cwd=repo)  # they need a local branch: say how to get one
        assert refused.returncode != 0 and "it is only on a remote (origin/exp/b): make " \
            "it local with 'gitlog pull b' or 'git branch exp/b origin/exp/b'" in \
            refused.stderr, command
    made = run_cli("exp", "new", "more", "--from", "b", cwd=repo)
    assert made.returncode == 0, made.stderr
    assert git(repo, "rev-parse", "exp/more").strip() == c["b2"]
    # once there is a local branch, it is the one listed and used
    git(repo, "branch", "exp/a", c["a2"])
    assert [(r["experiment"], r["branch"]) for r in cli_json(repo, "ls")] == \
        [("a", "exp/a"), ("b", "origin/exp/b"), ("more", "exp/more")]
    assert cli_json(repo, "show", "a")["run"]["run"] == "a2"


def test_a_name_on_several_remotes_is_one_clear_error(
        clone: tuple[Path, dict[str, str]]) -> None:
    repo, c = clone
    git(repo, "remote", "add", "upstream", git(repo, "remote", "get-url", "origin").strip())
    git(repo, "fetch", "-q", "upstream")
    for args in (("show", "b"), ("history", "-m", "loss", "b"), ("compare", "upstream/exp/a", "b")):
        proc = run_cli(*args, cwd=repo)
        assert proc.returncode == 1, args
        assert proc.stderr.splitlines() == [
            "Error: experiment is on several remotes and has no local branch "
            "(origin/exp/b, upstream/exp/b): b",
            "hint: name one, e.g. origin/exp/b, or make it local: git branch exp/b "
            "origin/exp/b"]
    assert cli_json(repo, "show", "upstream/exp/b")["run"]["run"] == "b2"
    assert [r["branch"] for r in cli_json(repo, "ls")] == \
        ["origin/exp/a", "upstream/exp/a", "origin/exp/b", "upstream/exp/b"]
    git(repo, "branch", "exp/b", c["b1"])
    assert cli_json(repo, "show", "b")["run"]["run"] == "b1"


def test_all_reads_remotes_whose_names_hold_a_slash(
        clone: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, c = clone
    origin = tmp_path / "origin.git"
    git(repo, "remote", "rename", "origin", "team/ml")  # refs/remotes/team/ml/exp/a
    git(repo, "remote", "add", "mirror", str(origin))  # and a branch named like one
    git(tmp_path / "proj", "push", "-q", str(origin), "exp/b:refs/heads/team/exp/b")
    git(repo, "fetch", "-q", "mirror", "refs/heads/team/exp/b:refs/remotes/mirror/team/exp/b")
    rows = history_json(repo, "-m", "loss", "--all")
    assert sorted(r["commit"] for r in rows) == sorted(
        c[k][:10] for k in ("a1", "a2", "a3", "a4", "b1", "b2"))
    assert [r["commit"] for r in history_json(repo, "-m", "loss", "team/ml/exp/a")] == \
        [c[k][:10] for k in ("a1", "a2", "a3", "a4")]


def test_a_new_run_or_branch_of_an_experiment_only_on_a_remote_is_refused(
        clone: tuple[Path, dict[str, str]]) -> None:
    # exp new a made a local exp/a at HEAD, which then hid origin/exp/a's runs from ls
    # and from the name a; a run of b started a branch apart from b's runs, which push
    # could only refuse as diverged
    repo, _ = clone
    said = ("Error: experiment {0} has its runs on a remote only (origin/exp/{0}): a new "
            "branch would start apart from them\nhint: make it local first: gitlog pull {0} "
            "(or git branch exp/{0} origin/exp/{0})\n")
    for command in (["exp", "new", "a"], ["run", "-e", "b", "--", "true"]):
        refused = run_cli(*command, cwd=repo)
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == said.format(command[2])
    started = run_python("import gitlog\ngitlog.start('b')\nprint('training')", cwd=repo)
    assert started.returncode == 1 and started.stdout == ""
    assert "experiment b has its runs on a remote only (origin/exp/b)" in started.stderr
    assert git(repo, "branch", "--list", "exp/*") == ""
    assert [r["branch"] for r in cli_json(repo, "ls")] == ["origin/exp/a", "origin/exp/b"]
    git(repo, "branch", "exp/b", "origin/exp/b")  # once local, its runs go on top
    done = run_cli("run", "-e", "b", "--", "true", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(repo, "rev-parse", "exp/b~1").strip() == \
        git(repo, "rev-parse", "origin/exp/b").strip()

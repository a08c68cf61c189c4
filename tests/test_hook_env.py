"""The hooks where a user commits without gitlog's virtual environment: an IDE, a GUI
client, a plain shell; and after that environment is deleted, moved or recreated."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from gitlog.hooks import install, status
from tests.conftest import ROOT, git
from tests.hookhelp import commit, log_run

REINSTALL = ("hint: reinstall the hooks from the environment that has gitlog: gitlog hooks "
             "install (or remove them: gitlog hooks uninstall)")
REFUSED = "(gitlog's pre-commit hook refused; 'git commit --no-verify' skips it once)"
WENT_THROUGH = "(the commit went through; gitlog's post-commit hook was skipped)"
# The hooks of a shell without the environment (PYTHONPATH would find this checkout).
NO_ENV = {"PYTHONPATH": ""}


def gitlog_copy(tmp_path: Path) -> Path:
    """gitlog installed in a folder of its own (as a wheel puts it in site-packages)."""
    site = tmp_path / "site"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "gitlog", site / "gitlog", ignore=skip)
    shutil.copytree(ROOT / "hooks", site / "hooks", ignore=skip)
    return site


def install_from(site: Path, repo: Path) -> str:
    """``gitlog hooks install`` run by a plain Python that imports gitlog from ``site``;
    that Python."""
    plain_python = os.path.realpath(sys.executable)
    setup = subprocess.run([plain_python, "-E", "-c", "import sys; sys.path.insert(0, "
                            "sys.argv[1]); from gitlog.hooks import install; "
                            "install(sys.argv[2])", str(site), str(repo)],
                           capture_output=True, text=True)
    assert setup.returncode == 0, setup.stderr
    return plain_python


def test_gone_interpreter_gives_a_clear_message(repo: Path, tmp_path: Path) -> None:
    venv_python = tmp_path / "old venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f"#!/bin/sh\nexec '{sys.executable}' \"$@\"\n")
    venv_python.chmod(0o755)
    install(repo, python=str(venv_python))
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "add", "-A")
    assert commit(repo).returncode == 0  # works while that Python exists
    venv_python.unlink()
    states = {h.hook: h.state for h in status(repo).hooks}
    assert states["pre-commit"] == "broken: its Python is gone"
    (repo / "train.py").write_text("print('v3')\n")
    refused = commit(repo, "-a")
    assert refused.returncode == 1
    # It said '(git commit --no-verify skips the check once)': not that it refused.
    assert refused.stderr.splitlines() == [
        "gitlog pre-commit: cannot run: the Python that gitlog was installed with is "
        f"gone: {venv_python}", REINSTALL, REFUSED]
    # Recording hooks never block git: post-commit only warns, and says the commit is in.
    done = commit(repo, "-a", "--no-verify")
    assert done.returncode == 0
    assert done.stderr.splitlines()[-1] == WENT_THROUGH
    assert git(repo, "log", "-1", "--format=%s").strip() == "change"


def test_interpreter_without_gitlog_gives_a_clear_message(repo: Path, tmp_path: Path) -> None:
    site = gitlog_copy(tmp_path)
    plain_python = install_from(site, repo)
    (repo / "train.py").write_text("print('v2')\n")
    assert commit(repo, "-a", env=NO_ENV).returncode == 0  # the hooks need only gitlog
    assert {h.state for h in status(repo).hooks} == {"installed (another Python)"}
    shutil.rmtree(site)  # gitlog uninstalled, or the venv recreated without it
    # status said 'installed (another Python)' while every commit was refused.
    assert {h.state for h in status(repo).hooks} == {"broken: its Python cannot import gitlog"}
    (repo / "train.py").write_text("print('v3')\n")
    refused = commit(repo, "-a", env=NO_ENV)
    assert refused.returncode == 1
    # It gave no word that the commit was refused, nor of --no-verify.
    assert refused.stderr.splitlines() == [
        f"gitlog pre-commit: cannot run: {plain_python} cannot import gitlog "
        "(ModuleNotFoundError: No module named 'gitlog')", REINSTALL, REFUSED]
    done = commit(repo, "-a", "--no-verify", env=NO_ENV)
    assert done.returncode == 0 and done.stderr.splitlines()[-1] == WENT_THROUGH


def test_a_broken_gitlog_gives_the_message_not_a_traceback(repo: Path,
                                                           tmp_path: Path) -> None:
    """A gitlog that fails to import for another reason than being absent (a half-done
    upgrade, a Python too old for it) printed Python's traceback into git's output."""
    site = gitlog_copy(tmp_path)
    plain_python = install_from(site, repo)
    (site / "gitlog" / "_hook.py").write_text("def main(:\n")
    (repo / "train.py").write_text("print('v2')\n")
    refused = commit(repo, "-a", env=NO_ENV)
    assert refused.returncode == 1
    lines = refused.stderr.splitlines()
    assert lines[0].startswith(f"gitlog pre-commit: cannot run: {plain_python} cannot "
                               "import gitlog (SyntaxError: ")
    assert lines[1:] == [REINSTALL, REFUSED]


def test_installed_hooks_run_without_the_venv_on_path(repo: Path) -> None:
    install(repo)
    git(repo, "checkout", "-q", "-b", "exp/plain")
    (repo / "train.py").write_text("print('v2')\n")
    log_run(repo)
    git(repo, "add", "-A")
    bare_path = {"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": ""}
    done = commit(repo, env=bare_path)
    assert done.returncode == 0, done.stderr
    assert "Gitlog-Run:" in git(repo, "log", "-1", "--format=%B")

"""Hostile names through every hook: spaces, quotes, ``$()``, ``;`` and non-ASCII in the
repository path, the interpreter path, branch names, file names and messages."""

from __future__ import annotations

import sys
from pathlib import Path

from gitlog.hooks import install
from tests.conftest import git, make_repo
from tests.hookhelp import commit, log_run, message_of

NASTY = "it's \"q\" $(touch PWNED) `touch PWNED2`; é ü"


def test_hostile_names_pass_through_every_hook(tmp_path: Path) -> None:
    base = tmp_path / "my projects; $(touch PWNED) it's"
    repo = make_repo(base / "répo \"x\"")
    python = base / "venv $(touch PWNED) 'q'" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\nexec '{sys.executable}' \"$@\"\n")
    python.chmod(0o755)
    install(repo, python=str(python))
    branch = "exp/it's-$(touch_PWNED);é\"q\""
    git(repo, "checkout", "-q", "-b", branch)
    odd = repo / "src dir" / f"{NASTY}.py"
    odd.parent.mkdir()
    odd.write_text("x = 1\n")
    git(repo, "add", "-A")

    refused = commit(repo, message=NASTY)
    assert refused.returncode == 1
    assert f"src dir/{NASTY}.py" in refused.stderr
    assert "it's-$(touch_PWNED);é\"q\"" in refused.stderr

    run = log_run(repo, loss=0.5)
    git(repo, "add", "-A")
    done = commit(repo, message=f"{NASTY}\n\nbody; $(rm -rf /)")
    assert done.returncode == 0, done.stderr
    text = message_of(repo)
    assert text.startswith(f"{NASTY}\n\nbody; $(rm -rf /)\n\nloss=0.5\n\n")
    assert f"Gitlog-Run: {run.id}\nGitlog-Experiment: it's-$(touch_PWNED);é\"q\"" in text

    remote = base / "remote $(x); 'r'.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "push", "-q", str(remote), branch)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", branch)
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", branch)
    assert not list(tmp_path.rglob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


def test_a_name_that_is_not_utf8_is_shown_as_git_quotes_it_and_typed_as_bash_takes_it(
        tmp_path: Path) -> None:
    """A file named in Latin-1 (lat\\xe9.py) was shown as 'lat\\udce9.py', in the messages
    and in the 'git add' hint, a name no one can type: now as git shows it in the message
    ("lat\\351.py") and as $'lat\\351.py' in the commands, which work as given."""
    import os
    import subprocess

    from tests.hookhelp import hooked_repo

    repo = hooked_repo(tmp_path / "p")
    latin = os.path.join(os.fsencode(repo), b"lat\xe9.py")
    with open(latin, "wb") as fh:
        fh.write(b"x = 1\n")
    git(repo, "add", "-A")
    refused = commit(repo)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[0] == (
        'gitlog pre-commit: code changed on experiment base ("lat\\351.py") without a logged '
        "run: nothing is staged in .gitlog/")
    log_run(repo)
    git(repo, "add", "-A")
    assert commit(repo).returncode == 0
    with open(latin, "wb") as fh:  # changed, logged, and only the run staged
        fh.write(b"x = 2\n")
    log_run(repo)
    git(repo, "add", ".gitlog")
    forgot = commit(repo)
    assert forgot.returncode == 1
    lines = forgot.stderr.splitlines()
    assert lines[1:3] == ['  not staged: "lat\\351.py"',
                          "hint: git add $'lat\\351.py' and commit again"]
    typed = subprocess.run(["bash", "-c", lines[2].removeprefix("hint: ").split(" and ")[0]],
                           cwd=repo, capture_output=True, text=True)
    assert typed.returncode == 0, typed.stderr
    assert commit(repo).returncode == 0

    with open(os.path.join(os.fsencode(repo), b"gro\xdf.bin"), "wb") as fh:
        fh.write(b"0" * 1_100_000)
    (repo / ".gitlog.yaml").write_text("hooks: {max_file_mb: 1}\n")
    git(repo, "add", "-A")
    big = commit(repo)
    assert big.returncode == 1
    assert big.stderr.splitlines()[:2] == [
        'gitlog pre-commit: "gro\\337.bin" is 1.1 MB, over hooks.max_file_mb (1 MB): large '
        "files belong in DVC, not in git",
        "hint: git rm --cached -q $'gro\\337.bin' && dvc add $'gro\\337.bin' && git add "
        "$'gro\\337.bin.dvc' .gitignore (from a run: run.log_artifact('gro\\udcdf.bin')); "
        "or raise hooks.max_file_mb in .gitlog.yaml"]
    unstage = subprocess.run(["bash", "-c", "git rm --cached -q $'gro\\337.bin'"], cwd=repo,
                             capture_output=True, text=True)
    assert unstage.returncode == 0, unstage.stderr
    assert git(repo, "status", "--porcelain", "--", ":(glob)gro*") == '?? "gro\\337.bin"\n'

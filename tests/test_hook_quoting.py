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

"""Helpers for the hook tests: repositories with gitlog's hooks, runs, real commits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import gitlog
from gitlog.hooks import install
from tests.conftest import git, make_repo


def hooked_repo(path: Path, experiment: str | None = "base", config: str | None = None,
                files: dict[str, str] | None = None) -> Path:
    """A repository on main (train.py committed) with all hooks installed; with
    ``experiment``, HEAD is on exp/<experiment>."""
    make_repo(path, files)
    if config is not None:
        (path / ".gitlog.yaml").write_text(config)
        git(path, "add", ".gitlog.yaml")
        git(path, "commit", "-q", "-m", "config")
    install(path)
    if experiment:
        git(path, "checkout", "-q", "-b", f"exp/{experiment}")
    return path


def log_run(repo: Path, **metrics: float) -> gitlog.Run:
    """One finished run in ``repo`` (workspace mode when HEAD is on an experiment)."""
    with gitlog.start(repo=repo, params={"lr": 0.1}) as run:
        for name, value in (metrics or {"loss": 0.5}).items():
            run.log_metric(name, value)
    return run


def commit(repo: Path, *args: str, env: dict[str, str] | None = None,
           message: str | None = "change") -> subprocess.CompletedProcess:
    """``git commit`` in a subprocess, hooks and all; output as text."""
    full = dict(os.environ)
    full.update(env or {})
    argv = ["git", "commit", "-q"]
    if message is not None:
        argv += ["-m", message]
    argv += args
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, env=full)


def wait_post_commit(repo: Path) -> None:
    """Wait until the detached post-commit steps of the last commit are done."""
    import fcntl

    lock = repo / ".git" / "gitlog" / "post-commit.lock"
    if not lock.exists():
        return
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)


def message_of(repo: Path, rev: str = "HEAD") -> str:
    """The commit message exactly as stored."""
    raw = git(repo, "cat-file", "commit", rev)
    return raw.split("\n\n", 1)[1]

"""Shared fixtures: real git repositories in temporary folders, a pinned environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# One BLAS thread per process: the machine has 2 cores shared by pytest's workers, and
# oversubscribed BLAS threads make a 0.1 s model fit take 30 s.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# A suite started in the background by a shell without job control (`make test &`, a CI
# step run that way) inherits SIGINT ignored, under `nohup` SIGHUP, and so would every
# command the tests start (an ignored signal stays ignored across exec, as gitlog run
# keeps it on purpose; Python then raises no KeyboardInterrupt): the Ctrl-C and SIGHUP
# tests hung or failed. The suite takes these signals as a terminal gives them.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
for _sig in (signal.SIGHUP, signal.SIGTERM):
    if signal.getsignal(_sig) is signal.SIG_IGN:
        signal.signal(_sig, signal.SIG_DFL)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def pinned_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed identity, no system/global git config, a temporary HOME."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig-empty"
    gitconfig.write_text("")
    for key in list(os.environ):
        if key.startswith(("GITLOG_", "GIT_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Trainer")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Trainer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")


def git(repo: Path, *args: str, check: bool = True, env: dict | None = None) -> str:
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def make_repo(path: Path, files: dict[str, str] | None = None, commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "-c", "init.defaultBranch=main", "init", "-q")
    for name, text in (files if files is not None else {"train.py": "print('train')\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if commit:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial code")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on main with one commit holding train.py."""
    return make_repo(tmp_path / "project")


def run_cli(*args: str, cwd: Path, env: dict | None = None, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed gitlog CLI (python -m gitlog) in a subprocess."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "gitlog", *args], cwd=cwd, capture_output=True,
                          text=True, env=full_env, input=input, timeout=timeout)


def run_python(code: str, cwd: Path, env: dict | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def state_of(repo: Path) -> dict[str, bytes]:
    """Bytes of everything a run must leave alone: work tree files, index, HEAD, refs."""
    out: dict[str, bytes] = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and not rel.startswith(".git/") or rel in (".git/index", ".git/HEAD"):
            out[rel] = path.read_bytes()
    out["refs"] = git(repo, "for-each-ref", "--format=%(refname) %(objectname)",
                      "refs/heads/main", "refs/stash").encode()
    out["stash"] = git(repo, "stash", "list").encode()
    # --no-optional-locks: status must not refresh (rewrite) the index it is checking.
    out["status"] = git(repo, "--no-optional-locks", "status", "--porcelain=v2",
                        "--branch").encode()
    return out


def held_branch(experiment: str, other: Path) -> tuple[str, str]:
    """(why, hint) of a run that cannot be committed onto ``exp/EXPERIMENT``: it is
    checked out in the worktree ``other``."""
    return (f"could not commit the run onto exp/{experiment}: it is checked out in {other} "
            f"(moving it would leave the files and index there behind exp/{experiment})",
            f"free the branch (git -C {other} checkout --detach), then run 'gitlog recover' "
            "to commit the run")

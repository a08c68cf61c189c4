"""The DVC side of the hooks, with real DVC, a local DVC remote and a bare git remote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitlog.artifacts import dvc_init
from gitlog.hooks import install
from tests.conftest import git, make_repo
from tests.hookhelp import commit

# DVC's own `add`, run in this process to set repositories up, warns about its internals.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def dvc_track(repo: Path, name: str, content: bytes) -> None:
    from dvc.repo import Repo as DvcRepo

    (repo / name).write_bytes(content)
    with DvcRepo(str(repo)) as dvc:
        dvc.add(str(repo / name))
    git(repo, "add", f"{name}.dvc", ".gitignore")


def set_dvc_remote(repo: Path, url: str) -> None:
    from dvc.repo import Repo as DvcRepo

    with DvcRepo(str(repo)) as dvc:
        with dvc.config.edit() as conf:
            conf["remote"]["storage"] = {"url": url}
            conf["core"]["remote"] = "storage"


@pytest.fixture
def dvc_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "project")
    dvc_init(repo)
    git(repo, "add", ".dvc", ".dvcignore")
    git(repo, "commit", "-q", "-m", "dvc init")
    install(repo)
    return repo


def push(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "push", "-q", *args], cwd=repo, capture_output=True,
                          text=True)


def test_pre_push_sends_the_pushed_commits_artifacts(dvc_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(dvc_repo, "remote", "add", "origin", str(remote))
    dvc_track(dvc_repo, "model.bin", b"weights v1")
    assert commit(dvc_repo, message="model").returncode == 0

    refused = push(dvc_repo, "origin", "main")
    assert refused.returncode == 1
    assert "the pushed commits reference DVC artifacts (model.bin.dvc): no DVC remote " \
        "configured" in refused.stderr
    assert "hint: dvc remote add -d storage /path/or/s3://bucket/path (or name one in " \
        ".gitlog.yaml: remote: {dvc: NAME}); then push again (or push without the " \
        "artifacts: git push --no-verify)\n" in refused.stderr
    assert git(remote, "branch", "--list", "main").strip() == ""

    storage = tmp_path / "dvc storage"
    set_dvc_remote(dvc_repo, str(storage))
    git(dvc_repo, "add", ".dvc/config")
    assert commit(dvc_repo, message="remote").returncode == 0
    done = push(dvc_repo, "origin", "main")
    assert done.returncode == 0, done.stderr
    assert "gitlog pre-push: DVC remote has the 1 artifact these commits use" in done.stderr
    stored = [p.read_bytes() for p in storage.rglob("*") if p.is_file()]
    assert stored == [b"weights v1"]
    assert git(remote, "rev-parse", "main") == git(dvc_repo, "rev-parse", "main")


def test_push_without_pointer_changes_imports_no_dvc(dvc_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    (dvc_repo / "train.py").write_text("print('v2')\n")
    assert commit(dvc_repo, "-a").returncode == 0  # fills the config cache
    (dvc_repo / "train.py").write_text("print('v3')\n")
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    done = subprocess.run(["git", "commit", "-qam", "code"], cwd=dvc_repo, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0
    pushed = subprocess.run(["git", "push", "-q", str(remote), "main"], cwd=dvc_repo,
                            env=env, capture_output=True, text=True)
    assert pushed.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in
                (done.stderr + pushed.stderr).splitlines() if line.startswith("import time:")}
    assert "gitlog._hook" in imported and "gitlog.precommit" in imported
    assert imported & {"dvc", "git", "ruamel", "ruamel.yaml", "dataclasses"} == set()


def test_checkout_and_merge_bring_dvc_files_in_line(dvc_repo: Path) -> None:
    dvc_track(dvc_repo, "data.csv", b"a,b\n1,2\n")
    assert commit(dvc_repo, message="data v1").returncode == 0
    git(dvc_repo, "checkout", "-q", "-b", "more-data")
    dvc_track(dvc_repo, "data.csv", b"a,b\n1,2\n3,4\n")
    assert commit(dvc_repo, message="data v2").returncode == 0

    switched = subprocess.run(["git", "checkout", "-q", "main"], cwd=dvc_repo,
                              capture_output=True, text=True)
    assert switched.returncode == 0
    assert "dvc checkout: 1 modified" in switched.stderr
    assert (dvc_repo / "data.csv").read_bytes() == b"a,b\n1,2\n"

    merged = subprocess.run(["git", "merge", "-q", "--ff-only", "more-data"], cwd=dvc_repo,
                            capture_output=True, text=True)
    assert merged.returncode == 0
    assert (dvc_repo / "data.csv").read_bytes() == b"a,b\n1,2\n3,4\n"


def test_missing_cache_warns_and_never_blocks_checkout(dvc_repo: Path) -> None:
    dvc_track(dvc_repo, "data.csv", b"v1\n")
    assert commit(dvc_repo, message="v1").returncode == 0
    git(dvc_repo, "checkout", "-q", "-b", "v2")
    dvc_track(dvc_repo, "data.csv", b"v2, never pushed\n")
    assert commit(dvc_repo, message="v2").returncode == 0
    git(dvc_repo, "checkout", "-q", "main")
    import shutil

    shutil.rmtree(dvc_repo / ".dvc" / "cache")
    (dvc_repo / "data.csv").unlink()  # as in a fresh clone that never ran dvc pull
    switched = subprocess.run(["git", "checkout", "-q", "v2"], cwd=dvc_repo,
                              capture_output=True, text=True)
    assert switched.returncode == 0
    assert "gitlog post-checkout: DVC-tracked files missing from the cache: data.csv" \
        in switched.stderr
    assert "hint: fetch them: dvc pull" in switched.stderr


def test_git_push_of_a_run_branch_sends_its_logged_artifact(dvc_repo: Path,
                                                             tmp_path: Path) -> None:
    import gitlog

    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    storage = tmp_path / "storage"
    set_dvc_remote(dvc_repo, str(storage))
    git(dvc_repo, "add", ".dvc/config")
    assert commit(dvc_repo, message="dvc remote").returncode == 0
    (dvc_repo / "model.pkl").write_bytes(b"trained weights")
    with gitlog.start("shipit", repo=dvc_repo) as run:  # branch mode: HEAD stays on main
        run.log_metric("loss", 0.1)
        run.log_artifact(dvc_repo / "model.pkl")
    assert "artifacts/model.pkl.dvc" in git(dvc_repo, "ls-tree", "-r", "--name-only",
                                            "exp/shipit")
    done = push(dvc_repo, str(remote), "exp/shipit")
    assert done.returncode == 0, done.stderr
    assert "DVC remote has the 1 artifact these commits use" in done.stderr
    assert [p.read_bytes() for p in storage.rglob("*") if p.is_file()] == [b"trained weights"]


def test_workspace_run_with_an_artifact_commits_through_the_hooks(dvc_repo: Path) -> None:
    import gitlog

    git(dvc_repo, "checkout", "-q", "-b", "exp/ws")
    (dvc_repo / "train.py").write_text("print('v2')\n")
    (dvc_repo / "models").mkdir()
    (dvc_repo / "models" / "model.pkl").write_bytes(b"weights")
    with gitlog.start(repo=dvc_repo) as run:
        run.log_metric("loss", 0.2)
        run.log_artifact(dvc_repo / "models" / "model.pkl")
    git(dvc_repo, "add", "-A")
    done = commit(dvc_repo, message="with model")
    assert done.returncode == 0, done.stderr
    tree = git(dvc_repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert ".gitlog/artifacts/model.pkl.dvc" in tree and "models/model.pkl" not in tree

"""Projects with DVC set up, for the artifact tests: real git, real DVC, local folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitlog.project import init_project
from tests.conftest import git, make_repo

TRAIN = """\
import pathlib, sys
import gitlog

with gitlog.start(params={"seed": 1}) as run:
    data = pathlib.Path("data/train.csv").read_text()
    run.log_artifact("data/train.csv", type="data")
    total = sum(int(x) for x in data.split())
    pathlib.Path("models").mkdir(exist_ok=True)
    pathlib.Path("models/model.pkl").write_text(f"model trained on {total}")
    run.log_artifact("models/model.pkl", meta={"total": total})
    run.log_metric("loss", 1.0 / total)
    run.log_metric("total", total)
"""


def make_dvc_project(path: Path, remote: Path | None = None) -> Path:
    """A repository on main with train.py, gitlog init (DVC) committed, and optionally
    a default DVC remote (a folder) in the committed .dvc/config."""
    make_repo(path, {"train.py": TRAIN, ".gitignore": "/data/\n/models/\n"})
    init_project(path)
    if remote is not None:
        set_remote(path, "storage", str(remote), default=True)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "gitlog init")
    return path


def make_team(tmp_path: Path) -> dict[str, Path]:
    """"Two machines": origin.git (bare, holding main), a DVC remote folder (store), the
    project a (DVC set up, pushing there) and b, a clone of origin."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(origin))
    store = tmp_path / "dvc-store"
    store.mkdir()
    a = make_dvc_project(tmp_path / "a", remote=store)
    git(a, "remote", "add", "origin", str(origin))
    git(a, "push", "-q", "origin", "main")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(origin), str(b))
    return {"origin": origin, "store": store, "a": a, "b": b}


def dvc(repo: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def set_remote(repo: Path, name: str, url: str, *, default: bool = False,
               level: str = "repo") -> None:
    """``dvc remote add [-d] NAME URL`` (level "repo") or ``dvc remote modify --local NAME
    url URL`` (level "local"), through DVC's own config writer in this process: the same
    bytes in .dvc/config(.local), without starting a DVC command (half a second each)."""
    from dvc.repo import Repo

    with Repo(str(repo)) as project, project.config.edit(level) as conf:
        conf["remote"].setdefault(name, {})["url"] = url
        if default:
            conf["core"]["remote"] = name


def write_data(repo: Path, numbers: str = "1 2 3 4") -> Path:
    path = repo / "data" / "train.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(numbers + "\n")
    return path


def cache_files(repo: Path) -> list[Path]:
    return sorted(p for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file())

"""``gitlog init``: the config file, DVC, and the dvc.yaml entries that let DVC read runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import config as config_mod
from .dvcfiles import merge_entries
from .git import Repo


@dataclass
class InitResult:
    root: Path
    config_written: bool
    dvc_initialized: bool
    dvc_yaml_updated: bool
    uncommitted: list[str] = field(default_factory=list)  # setup files git has not committed


SETUP_FILES = (config_mod.CONFIG_FILE, "dvc.yaml", ".dvc", ".dvcignore")


def init_project(path: str | Path = ".", *, dvc: bool = True) -> InitResult:
    """Set up gitlog in the repository containing ``path``; safe to run again."""
    repo = Repo(path)
    written = config_mod.write_default(repo.root)
    cfg = config_mod.load(repo.root)
    dvc_done = False
    if dvc and not (repo.root / ".dvc").is_dir():
        from .artifacts import dvc_init

        dvc_init(repo.root)
        dvc_done = True
    dvc_yaml = repo.root / "dvc.yaml"
    existing = dvc_yaml.read_text(encoding="utf-8") if dvc_yaml.exists() else None
    merged = merge_entries(existing, cfg.log_dir)
    if merged is not None:
        dvc_yaml.write_bytes(merged)
    return InitResult(repo.root, written, dvc_done, merged is not None, uncommitted(repo))


def uncommitted(repo: Repo) -> list[str]:
    """The setup files ``init`` writes that are not committed as they are: a run of the
    workspace workflow snapshots tracked files, so the pre-commit hook would take them
    for code changed since the run."""
    out = repo.git("status", "--porcelain", "--untracked-files=normal", "--",
                   *(f":(top,literal){name}" for name in SETUP_FILES))
    changed = {line[3:].strip('"').split("/", 1)[0] for line in out.splitlines() if line}
    return [name for name in SETUP_FILES if name in changed]

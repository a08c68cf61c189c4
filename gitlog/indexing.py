"""Filling the query cache: ``gitlog index [--rebuild]`` and the post-commit step."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, load
from .errors import GitlogError
from .git import Repo
from .index import Index
from .runlog import Progress, code_changes, collect
from .walk import complete, walk


@dataclass
class IndexStats:
    path: Path
    runs: int
    cached_before: int
    seconds: float
    rebuilt: bool


def update(repo: str | Path | Repo = ".", *, rebuild: bool = False,
           progress: Progress | None = None) -> IndexStats:
    """Index every run of every experiment branch and the main branch."""
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = load(repo.root)
    start = time.monotonic()
    with Index(repo.gitlog_dir, config.log_dir, rebuild=rebuild) as index:
        before = index.count()
        log = collect(repo, config, index, all_=True, changes=True, progress=progress)
        code_changes(repo, config, index, log)
        if index.db is None or index.problem:  # a query may go on uncached; this may not
            raise GitlogError(
                f"could not write the query cache {index.path}: {index.problem}",
                hint="another gitlog process holds it: run gitlog index again" if index.busy
                else f"make {index.path.parent} writable, or remove {index.path}")
        return IndexStats(index.path, len(log.runs), before, time.monotonic() - start,
                          rebuild or index.rebuilt)


def on_commit(repo: Any, config: Config, commit: str) -> None:
    """Post-commit step: cache what ``commit`` holds, so queries need not read it."""
    records = list(walk(repo, config.log_dir, [commit], no_walk=True))
    if not records:
        return
    with Index(repo.gitlog_dir, config.log_dir) as index:
        complete(repo, config.log_dir, records)
        index.put_facts(r.facts for r in records)

"""Submodules whose files hold changes a run's snapshot cannot keep."""

from __future__ import annotations

from .git import Repo, run_git


def dirty_submodules(repo: Repo) -> list[tuple[str, str]]:
    """(path, checked-out commit) of each submodule whose files hold uncommitted
    changes, as ``git status`` sees them (``submodule.NAME.ignore`` too): a snapshot
    keeps a submodule's commit, not its work tree. (Untracked files are left out, as
    a snapshot leaves them out of the repository itself.)"""
    out = run_git(["--no-optional-locks", "status", "--porcelain=v2", "-z", "-uno"],
                  repo.root, check=False).stdout.decode("utf-8", "surrogateescape")
    found = []
    records = iter(out.split("\0"))
    for record in records:
        kind = record[:2]
        fields = record.split(" ", 9 if kind == "2 " else 8)
        if kind == "2 ":
            next(records, None)  # the path it was renamed from
        elif kind != "1 ":
            continue
        sub = fields[2]
        if len(fields) >= 9 and sub.startswith("S") and sub[2] == "M":
            found.append(fields[-1])
    return [(path, run_git(["-C", path, "--git-dir=.git", "rev-parse", "HEAD"], repo.root,
                           check=False).stdout.decode().strip()) for path in found]

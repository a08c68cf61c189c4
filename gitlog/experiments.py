"""Experiment branches: ``gitlog exp new / list / rm``.

Experiment NAME is the plain branch ``<experiment_prefix>NAME`` (in a clone without it,
one remote's copy: see ``branches.py``). Creating one moves no HEAD unless asked
(``checkout``); deleting one refuses the branch HEAD is on and reports the tip so the
branch can be restored. Promotion lives in ``promote.py``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .branches import check_new_experiment
from .config import Config, load
from .errors import GitCommandError, GitlogError, RevisionError
from .git import Repo
from .names import check_experiment


@dataclass
class Experiment:
    """One experiment branch, as ``gitlog exp list`` shows it."""

    name: str
    branch: str
    commit: str
    current: bool = False
    promoted: bool | None = None
    runs: int = 0
    last_run: str | None = None
    status: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    remote: str | None = None  # branch is REMOTE/exp/NAME: no local branch yet
    only_here: int | None = None  # runs on no other branch, tag or remote (describe)

    def row(self) -> dict[str, object]:
        return {"name": self.name, "branch": self.branch, "commit": self.commit,
                "current": self.current, "promoted": self.promoted, "runs": self.runs,
                "last_run": self.last_run, "status": self.status}


def _open(path: str | Path | Repo) -> tuple[Repo, Config]:
    repo = path if isinstance(path, Repo) else Repo(path)
    return repo, load(repo.root)


def experiment_name(config: Config, name: str) -> str:
    """``name`` checked as an experiment name; a leading ``exp/`` prefix is dropped."""
    if isinstance(name, str) and name.startswith(config.prefix) and name != config.prefix:
        name = name[len(config.prefix):]
    return check_experiment(name)


def resolve_commit(repo: Repo, config: Config, rev: str) -> str:
    """A commit from a revision, an experiment name or a run id (the commit that logged
    the run)."""
    from .query import find_rev

    sha = find_rev(repo, config, rev)
    if sha:
        return sha
    raise RevisionError(rev, "no commit, experiment or run id matches",
                        hint="name a branch, a commit, an experiment from 'gitlog exp list' "
                             "or a run id from 'gitlog show'")


def new(path: str | Path | Repo, name: str, start: str | None = None, *,
        checkout: bool = False) -> Experiment:
    """Create the branch of experiment ``name`` at ``start`` (default HEAD)."""
    repo, config = _open(path)
    name = experiment_name(config, name)
    ref = config.branch(name)
    branch = ref[len("refs/heads/"):]
    if repo.ref_tip(ref):
        raise GitlogError(f"experiment {name} already exists (branch {branch})",
                          hint=f"switch to it with 'git checkout {branch}', or pick "
                               "another name")
    check_new_experiment(repo, config, name)
    if start is None and not repo.rev_parse("HEAD"):
        raise GitlogError("HEAD has no commit to start the experiment from",
                          hint="commit your code first, or pass --from REV")
    sha = resolve_commit(repo, config, start or "HEAD")
    why = repo.move_ref(ref, sha, None, f"gitlog exp new: {name} from {start or 'HEAD'}")
    if why is not None:
        from .refmove import blocked

        raise blocked(ref, why, f"create {branch}") or GitlogError(
            f"could not create {branch}: it appeared meanwhile",
            hint="list experiments with 'gitlog exp list'")
    if checkout:
        try:
            repo.git("checkout", "-q", branch)
        except GitCommandError as exc:
            raise GitlogError(f"created {branch}, but git could not check it out: "
                              f"{_last_line(exc.stderr)}",
                              hint=f"commit or stash your changes, then: git checkout "
                                   f"{branch}") from None
    return Experiment(name=name, branch=branch, commit=sha, current=checkout, runs=0)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("hint:", "Aborting"))]
    return (useful or lines or ["(no message)"])[0].removeprefix("error: ")


def list_experiments(path: str | Path | Repo = ".") -> list[Experiment]:
    """Every experiment branch (and remote-tracking one with no local branch): tip,
    whether HEAD is on it, whether its runs are already in the main branch (one with no
    run has nothing to promote: its tip, where it branched, is in main anyway), and its
    latest run's facts."""
    from .query import list_experiments as rows

    repo, config = _open(path)
    head = repo.head().branch
    main = config["main_branch"]
    found = rows(repo, config)
    refs = [f"refs/{'remotes' if row.remote else 'heads'}/{row.branch}" for row in found]
    merged = set()
    if found and repo.ref_tip(f"refs/heads/{main}"):
        merged = set(repo.git("for-each-ref", "--format=%(refname)", "--merged",
                              f"refs/heads/{main}", *refs).split("\n"))
    out = []
    for row, ref in zip(found, refs, strict=True):
        out.append(Experiment(name=row.experiment, branch=row.branch, commit=row.commit,
                              current=ref == head, promoted=ref in merged and row.runs > 0,
                              runs=row.runs,
                              last_run=row.last_run, status=row.status,
                              metrics=dict(row.metrics), remote=row.remote))
    return out


def describe(path: str | Path | Repo, name: str) -> Experiment:
    """One experiment's branch facts (what ``rm`` deletes)."""
    repo, config = _open(path)
    name = experiment_name(config, name)
    ref = config.branch(name)
    tip = repo.ref_tip(ref)
    if not tip:
        from .branches import no_local_branch_hint

        raise GitlogError(f"no experiment named {name} (no branch {ref[len('refs/heads/'):]})",
                          hint=no_local_branch_hint(repo, config, name))
    from .facts import log_paths
    from .runcount import run_counts

    branch = ref[len("refs/heads/"):]
    only_here = repo.git("rev-list", "--count", tip, "--not", f"--exclude={branch}",
                         "--branches", "--remotes", "--tags", "--",
                         *log_paths(config.log_dir)).strip()
    return Experiment(name=name, branch=branch, commit=tip,
                      current=repo.head().branch == ref, runs=run_counts(repo, config, [tip])[tip],
                      only_here=int(only_here or 0))


def checked_out_elsewhere(repo: Repo, ref: str) -> str | None:
    """The other worktree that has branch ``ref`` checked out (or is rebasing it), if one
    does."""
    folder = repo.worktree_on(ref)
    return None if folder is None or folder.resolve() == repo.root.resolve() else str(folder)


def switch_away(repo: Repo, config: Config) -> str:
    """The command that takes HEAD off its branch: checking out the main branch, or, while
    that has no commit yet (a new repository), detaching HEAD (files stay as they are)."""
    main = str(config["main_branch"])
    if repo.ref_tip(f"refs/heads/{main}"):
        return f"git checkout {shlex.quote(main)}"
    return "git checkout --detach"


def removable(path: str | Path | Repo, name: str) -> Experiment:
    """``describe``, refusing what ``remove`` refuses (so nothing asks to delete a branch
    that then cannot be): the branch HEAD is on, or one checked out in another worktree."""
    repo, config = _open(path)
    exp = describe(repo, name)
    if exp.current:
        raise GitlogError(f"experiment {exp.name} is checked out here ({exp.branch})",
                          hint=f"switch away first, e.g. {switch_away(repo, config)}")
    holder = checked_out_elsewhere(repo, f"refs/heads/{exp.branch}")
    if holder:
        raise GitlogError(f"experiment {exp.name} is checked out in another worktree "
                          f"({holder})", hint="remove that worktree (git worktree remove "
                          f"{shlex.quote(holder)}) or detach it (git -C {shlex.quote(holder)} "
                          "checkout --detach), then delete again")
    return exp


def remove(path: str | Path | Repo, name: str) -> Experiment:
    """Delete the experiment's branch (not the branch HEAD is on); return what it was."""
    exp = removable(path, name)
    repo = path if isinstance(path, Repo) else Repo(path)
    try:
        repo.git("branch", "-D", "--", str(exp.branch))
    except GitCommandError as exc:
        raise GitlogError(f"could not delete {exp.branch}: {_last_line(exc.stderr)}",
                          hint="list experiments with 'gitlog exp list'") from None
    return exp


def remote_copies(path: str | Path | Repo, branch: str) -> list[str]:
    """The remotes whose remote-tracking branch (``origin/exp/NAME``) of experiment branch
    ``branch`` this clone knows: after ``rm``, 'gitlog ls' lists the experiment from it."""
    repo, _ = _open(path)
    remotes = repo.git("remote").split()
    if not remotes:
        return []
    found = set(repo.git("for-each-ref", "--format=%(refname)",
                         *(f"refs/remotes/{r}/{branch}" for r in remotes)).splitlines())
    return [r for r in remotes if f"refs/remotes/{r}/{branch}" in found]

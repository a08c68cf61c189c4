"""``gitlog reproduce``: run a logged run again and compare its metrics.

The run commit is checked out in a temporary ``git worktree add --detach`` (the user's
checkout, index and HEAD are never touched): that gives the code exactly as it ran and
the run's log folder with its params. The run's data artifacts are restored from the DVC
cache (or remote) at their paths, the worktree's DVC shares the main cache, and the
recorded command (or the one given) runs as a new run of the same experiment. Each
metric of the old run is then compared with the new one within a relative tolerance.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .config import Config, load
from .errors import GitlogError
from .git import Repo
from .layout import RunRecord, read_run
from .query import no_run_error, resolve_run, run_experiment

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


@dataclass
class MetricCheck:
    name: str
    old: Any
    new: Any
    ok: bool

    @property
    def rel_diff(self) -> float | None:
        if not (_number(self.old) and _number(self.new)):
            return None
        if self.old == self.new:
            return 0.0
        return abs(self.new - self.old) / abs(self.old) if self.old else math.inf


@dataclass
class Reproduction:
    old_commit: str
    old_run: str
    command: list[str]
    rtol: float
    atol: float = 0.0
    new_commit: str | None = None
    new_run: str | None = None
    status: str | None = None
    exit_code: int | None = None
    checks: list[MetricCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "completed" and all(c.ok for c in self.checks)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare(old: dict[str, Any], new: dict[str, Any], rtol: float,
            atol: float = 0.0) -> list[MetricCheck]:
    """Each metric of ``old`` (flat names, ``step`` left out) against ``new``: it passes
    when ``|new - old| <= max(rtol * |old|, atol)`` (NaN matches NaN, inf matches inf)."""
    checks = []
    for name in sorted(old):
        if name == "step":
            continue
        a, b = old[name], new.get(name)
        if _number(a) and _number(b):
            x, y = float(a), float(b)  # type: ignore[arg-type]
            ok = (math.isnan(x) and math.isnan(y)) or x == y or \
                abs(y - x) <= max(rtol * abs(x), atol)
        else:
            ok = a == b
        checks.append(MetricCheck(name, a, b, ok))
    return checks


def command_of(record: RunRecord, command: list[str] | None) -> list[str]:
    argv = list(command) if command else shlex.split(str(record.run.get("command") or ""))
    if not command:
        _refuse_typed_in(record, argv)
    if not argv:
        raise GitlogError(f"run {record.run.get('id') or record.commit[:12]} recorded no "
                          "command",
                          hint="give one: gitlog reproduce REV -- python train.py")
    if _PYTHON.match(os.path.basename(argv[0])):
        if not command and argv[-1] == "-c":  # recorded before run.yaml kept -c's code
            raise GitlogError(f"run {record.run.get('id') or record.commit[:12]} recorded "
                              f"its command without the code python -c ran: "
                              f"{shlex.join(argv)}",
                              hint="give the command: gitlog reproduce REV -- python -c CODE")
        argv[0] = sys.executable  # the recorded interpreter's name; run this environment's
    return argv


def _refuse_typed_in(record: RunRecord, argv: list[str]) -> None:
    """A run from a notebook or a prompt recorded no command that runs its code again (a
    kernel's, before run.yaml said so, was the kernel launcher with a connection file
    that is gone: reproduce started a kernel that waited for a client forever)."""
    from .notebook import launcher_command

    kind = record.run.get("interactive") or (
        "jupyter kernel" if launcher_command(argv) else None)
    if not kind:
        return
    notebook = record.run.get("notebook")
    where = f"a Jupyter kernel (notebook {notebook})" if notebook else \
        "a Jupyter kernel" if kind == "jupyter kernel" else f"an interactive {kind}" \
        if kind == "ipython" else f"the {kind}"
    script = shlex.quote(Path(str(notebook)).with_suffix(".py").as_posix()) if notebook \
        else "train.py"
    raise GitlogError(f"run {record.run.get('id') or record.commit[:12]} was logged from "
                      f"{where}: it recorded no command that runs its code again",
                      hint=f"give the command: gitlog reproduce REV -- python {script}"
                           + (f" (a script of the notebook: jupyter nbconvert --to script "
                              f"{shlex.quote(str(notebook))})" if notebook else ""))


def _refuse_checked_out(repo: Repo, config: Config, experiment: str) -> None:
    """The new run is committed to the experiment's branch: when a working tree has that
    branch checked out, the branch would move under it (its index and files then show the
    new run undone, for the next 'git commit' to revert)."""
    ref = config.branch(experiment)
    folder = repo.worktree_on(ref)
    if folder is None:
        return
    here = folder.resolve() == repo.root.resolve()
    where = str(repo.root) if here else str(folder)
    from .experiments import switch_away

    switch = switch_away(repo, config)
    raise GitlogError(
        f"{ref[len('refs/heads/'):]} is checked out {'here' if here else 'in another worktree'}"
        f" ({where}): the reproduced run would move that branch under its working tree",
        hint=f"switch away first ({switch}), then reproduce again" if here else
        f"free the branch there first (git -C {shlex.quote(where)} checkout --detach, or "
        "another branch), then reproduce again")


def _folder(worktree: Path, cwd: Any) -> Path:
    """The worktree's copy of the folder the run ran in (run.yaml ``cwd``, relative to
    the repository root); the root when none is recorded or it leads outside."""
    from pathlib import PurePosixPath

    rel = PurePosixPath(cwd) if isinstance(cwd, str) and cwd else None
    if rel is None or rel.is_absolute() or ".." in rel.parts:
        return worktree
    folder = worktree.joinpath(*rel.parts)
    folder.mkdir(parents=True, exist_ok=True)  # a folder of untracked files only
    return folder


def _into_code(result: Reproduction, root: Path, folder: Path, worktree: Path) -> None:
    """Point the command's absolute paths into the repository (``python $PWD/train.py``)
    at the run's code: they named your checkout's files, which may have changed since.
    A path the run's commit holds becomes relative to the folder the command runs in
    (the new run records it so); any other (a venv, untracked data) stays as it is, and
    a script among those is refused, as ``_check_script`` says."""
    roots = {root, root.resolve()}
    words = []
    for arg in result.command:
        inside = [Path(arg).relative_to(r) for r in roots
                  if os.path.isabs(arg) and Path(arg).is_relative_to(r)]
        if inside and os.path.lexists(worktree / inside[0]):
            arg = os.path.relpath(worktree / inside[0], folder)
        elif inside and arg == _script(result.command):
            _missing_script(result, inside[0].as_posix())
        words.append(arg)
    result.command = words


def _script(argv: list[str]) -> str:
    from .procrun import command_script

    return command_script(argv)


def _check_script(result: Reproduction, folder: Path, worktree: Path) -> None:
    """Refuse, before a failed run is logged, a command whose script (``train.py``,
    ``./train.sh``) the run's commit does not hold: a run keeps the files git tracks, so
    a script that was untracked when it ran is gone from its code."""
    script = _script(result.command)
    if os.path.isabs(script) or (script == result.command[0] and os.sep not in script):
        return  # a program on PATH, or a path outside the code
    path = folder / script
    if not os.path.lexists(path):
        _missing_script(result, path.relative_to(worktree).as_posix())


def _missing_script(result: Reproduction, shown: str) -> None:
    raise GitlogError(f"the command's script {shown} is not in the code of run "
                      f"{result.old_run} ({result.old_commit[:10]})",
                      hint=f"a run keeps only files git tracks: git add {shown} before the "
                           "next run; or give another command after --")


def _restore_data(repo: Repo, record: RunRecord, worktree: Path, remote: str | None) -> None:
    from .artifacts import open_dvc
    from .retrieve import ensure_cached, materialize

    data = [a for a in record.artifacts if a.type == "data"]
    if not data:
        return
    run_id = str(record.run.get("id"))
    with open_dvc(repo) as dvc:
        for art in data:
            target = worktree / art.path
            if os.path.lexists(target):
                continue  # committed with the code: that copy is the one that ran
            ensure_cached(dvc, art, run_id, remote,
                          experiment=str(record.run.get("experiment") or "") or None)
            materialize(dvc.files(art.md5), target)


def _tolerance(name: str, value: Any) -> float:
    """A tolerance as a float: a finite number >= 0 (a negative or nan one was dropped by
    ``max(rtol * |old|, atol)`` unseen, an infinite one passes everything)."""
    number = value if _number(value) else None
    if number is None or not math.isfinite(number) or number < 0:
        example = "--rtol 0.01 passes a 1% difference" if name == "rtol" else \
            "--atol 1e-6 passes a difference of up to 1e-6"
        shown = f"{value:g}" if number is not None else repr(value)
        raise GitlogError(f"bad --{name} {shown}: a tolerance is a finite number >= 0",
                          hint=f"{example}; 0 passes equal values only")
    return float(number)


def reproduce(rev: str, repo: str | Path | Repo = ".", config: Config | None = None, *,
              command: list[str] | None = None, rtol: float | None = None,
              atol: float = 0.0, dvc_remote: str | None = None,
              output: BinaryIO | None = None) -> Reproduction:
    """Re-run the run ``rev`` names in a temporary worktree as a new run of its experiment
    and compare metrics. The command's output goes to ``output`` (default: stderr)."""
    from .artifacts import main_root, share_cache
    from .procrun import run_command

    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    commit = resolve_run(repo, config, rev)
    with repo.cat_file() as cat:
        record = read_run(cat, commit, config.log_dir, events=False)
    if record is None:
        raise no_run_error(repo, config, rev, commit)
    tol = _tolerance("rtol", config["reproduce"]["rtol"] if rtol is None else rtol)
    atol = _tolerance("atol", atol)
    result = Reproduction(commit, str(record.run.get("id") or commit[:12]),
                          command_of(record, command), tol, atol)
    if not [name for name in record.flat_metrics if name != "step"]:
        # (it ran the command and said '0/0 metrics within rtol': reproduced, exit 0)
        raise GitlogError(f"run {result.old_run} logged no metrics: there is nothing to "
                          "compare a reproduction with",
                          hint="reproduce a run that logged metrics (gitlog ls), or run the "
                               "command again as a new run: gitlog run -e NAME -- COMMAND")
    experiment = run_experiment(repo, config, record, rev)
    if not experiment:  # metrics by hand that no one experiment branch holds
        raise GitlogError(f"run {result.old_run} names no experiment to reproduce it in",
                          hint="reproduce the run at an experiment's tip (gitlog reproduce "
                               "NAME), or run it anew: gitlog run -e NAME -- python train.py")
    _refuse_checked_out(repo, config, experiment)
    unstored: GitlogError | None = None  # the new run, when it could not be committed
    base = Path(tempfile.mkdtemp(prefix="gitlog-reproduce-"))
    worktree = base / "worktree"
    repo.git("worktree", "add", "--detach", "--quiet", str(worktree), commit)
    try:
        _restore_data(repo, record, worktree, dvc_remote)
        main = main_root(repo)
        if main is not None and (main / ".dvc").is_dir():
            share_cache(worktree, main)
        folder = _folder(worktree, record.run.get("cwd"))
        _into_code(result, repo.root, folder, worktree)
        _check_script(result, folder, worktree)
        out = output or sys.stderr.buffer
        done = run_command(result.command, repo=worktree,
                           experiment=experiment, params=record.params or None,
                           message=f"{experiment}: reproduce run "
                                   f"{result.old_run}", stdout=out, stderr=out,
                           cwd=folder, report_unstored=True)
        result.new_run, result.status, result.exit_code = done.run.id, done.status, \
            done.exit_code
        unstored = done.unstored_error()
        result.new_commit = done.run.commit
    finally:
        repo.git("worktree", "remove", "--force", str(worktree), check=False)
        shutil.rmtree(base, ignore_errors=True)
        repo.git("worktree", "prune", check=False)
    if unstored is not None:  # (not 'the new run logged no loss')
        raise unstored
    new_metrics: dict[str, Any] = {}
    if result.new_commit:
        with repo.cat_file() as cat:
            new = read_run(cat, result.new_commit, config.log_dir, events=False)
        new_metrics = new.flat_metrics if new else {}
    result.checks = compare(record.flat_metrics, new_metrics, tol, atol)
    return result

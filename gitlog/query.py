"""Reading runs back: the experiment list (``gitlog ls``) and one run (``gitlog show``).

What is a run is ``layout.holds_run``'s rule (run.yaml or metrics.json in the log
directory), as history walks runs; ``compare``, ``logs`` and the rest resolve runs here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .branches import experiment_branches, experiment_of, find_commit
from .config import Config, load
from .errors import RevisionError
from .facts import log_paths
from .git import Repo
from .layout import RunRecord, flatten, holds_run, read_run
from .runcount import run_counts


@dataclass
class ExperimentRow:
    experiment: str
    branch: str
    runs: int
    last_run: str | None
    status: str | None
    commit: str
    metrics: dict[str, Any] = field(default_factory=dict)
    remote: str | None = None  # a remote-tracking branch (REMOTE/exp/NAME), none local


@dataclass
class RunView:
    """A run plus the commit facts around it; ``experiment`` as ``run_experiment`` finds it."""

    record: RunRecord
    commit: str
    subject: str
    date: str
    branches: list[str]
    experiment: str = ""


def list_experiments(repo: str | Path | Repo = ".", config: Config | None = None) -> \
        list[ExperimentRow]:
    """One row per experiment branch (``gitlog ls``): run count, last run, its status and
    key metrics.

    repo: the repository, or any folder inside it (a str or a Path).
    config: a loaded ``.gitlog.yaml`` (default: the repository's).
    """
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    keys = list(config["metrics"]["key"])
    rows = []
    branches = experiment_branches(repo, config)
    counts = run_counts(repo, config, [tip for _, tip, _, _ in branches])
    log_dir = config.log_dir
    with repo.cat_file() as cat:
        # what a tip that is a run needs, asked for every tip at once (run_holder, read_run)
        cat.prefetch([f"{tip}{rev}{path}" for _, tip, _, _ in branches
                      for rev, path in (("", ""), ("", f":{log_dir}"), ("^", f":{log_dir}"),
                                        *((rev, f":{p}") for p in log_paths(log_dir)
                                          for rev in ("", "^")))])
        found = []
        for branch, tip, date, remote in branches:
            # a tip without a log directory holds no run, nor does the commit whose
            # files it carries unchanged (run_holder): no need to look for it
            record = read_run(cat, run_holder(repo, config, tip, cat), log_dir,
                              events=False, extras=False) \
                if cat.lookup(f"{tip}:{log_dir}") else None
            found.append((branch, tip, date, remote, record))
    # a run without times (metrics committed by hand) ran when it was committed, not when
    # a commit on top of it was: one git process for the dates of all such runs
    undated = [record.commit for _, tip, _, _, record in found if record and
               record.commit != tip and not (record.run.get("end") or record.run.get("start"))]
    dates = dict(line.split(" ", 1) for line in repo.git(
        "log", "--no-walk=unsorted", "--format=%H %cI", "--stdin",
        input="".join(f"{c}\n" for c in undated).encode()).splitlines()) if undated else {}
    for branch, tip, date, remote, record in found:
        flat = record.flat_metrics if record else {}
        rows.append(ExperimentRow(
            experiment=experiment_of(config, branch, remote), branch=branch,
            runs=counts[tip],
            # a branch without a run (just made by exp new) has no last run: its tip's
            # date is when the branch point was committed, not a run's
            last_run=(record.run.get("end") or record.run.get("start")
                      or _utc(dates.get(record.commit, date))) if record else
            (_utc(date) if counts[tip] else None),
            status=record.run.get("status") if record else None, commit=tip,
            metrics={k: _latest(flat, config.series(k)) for k in keys}, remote=remote))
    rows.sort(key=lambda r: (r.experiment, r.branch))
    return rows


def _utc(date: str) -> str:
    """A git date (in its committer's offset) as a run's times are written: UTC, with
    'Z', so one column of last runs reads, and sorts, as one clock."""
    from datetime import datetime, timezone

    return datetime.fromisoformat(date).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latest(flat: dict[str, Any], names: list[str]) -> Any:
    """The value of the first of a series' names (``metrics.aliases``) the run has."""
    return next((flat[n] for n in names if flat.get(n) is not None), None)


def run_holder(repo: Repo, config: Config, commit: str, cat: Any = None) -> str:
    """The commit that recorded the run ``commit`` carries: itself when it changed the
    log directory, else the newest one of its history that did (a README edit or a merge
    of the main branch on top of a run carries that run's files unchanged, and holds none
    of its facts: id, status, command, events), as ``git rev-list -1 COMMIT -- LOG_DIR``
    finds it. With ``cat`` (an open ``CatFile``), a line of commits of one parent down to
    one whose log directory differs from its parent's, as a run's does, is followed
    without starting git."""
    if cat is not None and (found := _holder_in_line(cat, commit, config.log_dir)):
        return found
    found = repo.git("rev-list", "-1", commit, "--", config.log_dir).strip()
    return found or commit


def _holder_in_line(cat: Any, commit: str, log_dir: str, steps: int = 20) -> str | None:
    """The first commit down ``commit``'s line of one-parent commits whose log directory
    differs from its parent's: what ``git rev-list -1`` names, as each commit it passes is
    one git's history simplification drops. None at a merge, a root or after ``steps``
    commits: git decides there."""
    for _ in range(steps):
        found = cat.lookup(commit)
        if found is None or found[1] != "commit":
            return None
        head = found[2].split(b"\n\n", 1)[0]
        if head.count(b"\nparent ") != 1:
            return None
        mine = cat.lookup(f"{commit}:{log_dir}")
        before = cat.lookup(f"{commit}^:{log_dir}")
        if (mine and mine[0]) != (before and before[0]):
            return commit
        commit = head.split(b"\nparent ", 1)[1].split(b"\n", 1)[0].decode()
    return None


def run_experiment(repo: Repo, config: Config, record: RunRecord, rev: str | None) -> str:
    """The experiment of a run: run.yaml's (or its ``Gitlog-Experiment`` trailer's), else,
    as history takes the branch it reached a run from, that of the experiment branch
    holding it: the one ``rev`` names, else the only one whose tip it is, else the only
    one whose history holds it; '' when none says."""
    named = str(record.run.get("experiment") or "")
    if named:
        return named
    found = experiment_branches(repo, config, contains=record.commit)
    holding = sorted({experiment_of(config, b, remote) for b, _, _, remote in found})
    at_tip = sorted({experiment_of(config, b, remote) for b, tip, _, remote in found
                     if tip == record.commit})
    if rev is not None:
        for name in holding:
            if rev in (name, config.prefix + name) or rev.endswith(f"/{config.prefix}{name}"):
                return name
    for names in (at_tip, holding):
        if names:
            return names[0] if len(names) == 1 else ""
    return ""


def no_run_error(repo: Repo, config: Config, rev: str | None, commit: str,
                 hint: str | None = None) -> RevisionError:
    """The one error, in every command that takes a run, for a commit that holds none:
    ``this commit holds no run: REV``; the hint (by default where run commits are, on
    the branches of ``experiment_prefix``) says where the runs are when they were logged
    under an earlier ``log_dir``."""
    from .logdirs import moved_hint

    if hint is None and rev and (name := _runless_experiment(repo, config, rev, commit)):
        import shlex

        return RevisionError(rev, "this experiment has no run yet",
                             hint=f"log one: gitlog run -e {shlex.quote(name)} -- python "
                                  "train.py")
    hint = hint or f"pick a run commit from 'git log {config.prefix}NAME' or 'gitlog ls'"
    return RevisionError(rev or commit[:12], "this commit holds no run",
                         hint=moved_hint(repo, config, hint, commit))


def _runless_experiment(repo: Repo, config: Config, rev: str, commit: str) -> str | None:
    """The experiment ``rev`` names when it is a local experiment branch whose tip is
    ``commit`` and whose history holds no run (just made by ``gitlog exp new``)."""
    from .branches import experiment_ref

    try:
        ref = experiment_ref(repo, config, rev)
    except RevisionError:
        return None
    if not ref or not ref.startswith("refs/heads/") or repo.rev_parse(ref) != commit or \
            repo.git("rev-list", "-1", commit, "--", *log_paths(config.log_dir)).strip():
        return None
    return ref[len("refs/heads/") + len(config.prefix):]


def resolve_run(repo: Repo, config: Config, rev: str | None) -> str:
    """The commit holding the run ``rev`` names: a revision, an experiment or a run id."""
    if rev is None:
        return run_holder(repo, config, latest_run(repo, config))
    sha = find_commit(repo, config, rev)
    if sha:
        return run_holder(repo, config, sha)
    found = find_run_id(repo, rev)
    if found:
        return found
    raise RevisionError(rev, "no commit, experiment or run id matches",
                        hint=repo.unknown_hint(rev, "list experiments with 'gitlog ls'"))


def find_rev(repo: Repo, config: Config, rev: str) -> str | None:
    """The commit ``rev`` names: a revision or an experiment (``find_commit``), else the
    commit that logged the run whose id (or the start of one run's id) it is; or None."""
    return find_commit(repo, config, rev) or find_run_id(repo, rev)


def find_run_id(repo: Repo, rev: str) -> str | None:
    """The commit that logged the run ``rev`` names by its id, or by the start of one
    run's id as git takes a short commit id; an error when several runs' ids start so."""
    found = _run_ids(repo, rev)
    if rev in found:
        return found[rev]
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        shown = ", ".join(sorted(found)[:5]) + (", ..." if len(found) > 5 else "")
        raise RevisionError(rev, f"the ids of {len(found)} runs start with it ({shown})",
                            hint="give more of the run id, or its commit")
    return None


def _run_ids(repo: Repo, start: str) -> dict[str, str]:
    """run id -> the commit that logged it (the oldest of those carrying its trailer: a
    promotion's merge repeats it), for the run ids that start with ``start``."""
    out = repo.git("log", "--all", "--topo-order",
                   "--format=%H%x00%(trailers:key=Gitlog-Run,valueonly,separator=%x00)",
                   "-E", f"--grep=^Gitlog-Run: {_escape(start)}", check=False)
    found: dict[str, str] = {}
    for line in out.splitlines():
        sha, *ids = line.split("\0")
        for run_id in ids:
            if run_id.strip().startswith(start):
                found[run_id.strip()] = sha  # children come first: the last is the oldest
    return found


def _escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?()[]{}|\\" else c for c in text)


def latest_run(repo: Repo, config: Config) -> str:
    """HEAD when it holds a run, else the newest experiment tip that holds one."""
    head = repo.rev_parse("HEAD")
    branches = sorted(experiment_branches(repo, config), key=lambda b: b[2], reverse=True)
    with repo.cat_file() as cat:
        if head and holds_run(cat, head, config.log_dir):
            return head
        for _, tip, _, _ in branches:  # newest first; a branch made by 'exp new' holds none
            if holds_run(cat, tip, config.log_dir):
                return tip
    from .logdirs import moved_hint

    raise RevisionError("HEAD", "no runs yet", hint=moved_hint(
        repo, config, "log one: gitlog run -e NAME -- python train.py"))


def show(rev: str | None = None, repo: str | Path | Repo = ".",
         config: Config | None = None) -> RunView:
    """A run's params, metrics, data and model descriptors (``gitlog show``).

    rev: a commit, an experiment name or a run id; default HEAD's run, else the newest.
    repo: the repository, or any folder inside it (a str or a Path).
    config: a loaded ``.gitlog.yaml`` (default: the repository's).
    """
    from .apiargs import rev_arg

    rev = rev_arg(rev, "show")
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    commit = resolve_run(repo, config, rev)
    with repo.cat_file() as cat:
        record = read_run(cat, commit, config.log_dir)
    if record is None:
        raise no_run_error(repo, config, rev, commit)
    subject, date = repo.git("log", "-1", "--format=%s%x00%cI", commit).strip().split("\0")
    branches = [b for b in repo.git("branch", "--format=%(refname:short)", "--points-at",
                                    commit).split() if b]
    return RunView(record, commit, subject, date, branches,
                   run_experiment(repo, config, record, rev))


def run_summary(view: RunView) -> dict[str, Any]:
    """The flat facts of a run, as ``gitlog show`` prints them."""
    run = view.record.run
    events = view.record.events
    levels: dict[str, int] = {}
    for event in events:
        levels[event.get("level", "info")] = levels.get(event.get("level", "info"), 0) + 1
    return {
        "run": run.get("id"),
        "experiment": view.experiment or None,
        "status": run.get("status"),
        "commit": view.commit,
        "subject": view.subject,
        "start": run.get("start"),
        "end": run.get("end"),
        "duration_s": run.get("duration_s"),
        "command": run.get("command"),
        **{key: run[key] for key in ("interactive", "notebook") if run.get(key)},
        **exit_facts(run.get("exit_code")),
        "code_commit": run.get("code_commit"),
        "code_branch": run.get("code_branch"),
        "dirty": run.get("dirty"),
        "cpu_time_s": run.get("cpu_time_s"),
        "peak_memory_mb": run.get("peak_memory_mb"),
        "host": run.get("host"),
        "warnings": levels.get("warning", 0),
        "errors": levels.get("error", 0) + levels.get("critical", 0),
        "events": len(events),
    }


def exit_facts(code: Any) -> dict[str, Any]:
    """``exit_code`` as the shell gives it and the ``signal`` that ended the command:
    run.yaml records a signal N as -N (Python's convention), the shell says 128+N."""
    if isinstance(code, int) and not isinstance(code, bool) and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return {"exit_code": 128 - code, "signal": name}
    return {"exit_code": code, "signal": None}


def run_sections(view: RunView) -> dict[str, dict[str, Any]]:
    """Everything ``gitlog show`` prints, section by section, flattened: an empty
    mapping (a param ``kwargs: {}``) is a value ``{}``, as the JSON holds it, not gone."""
    rec = view.record
    return {
        "run": run_summary(view),
        "params": flatten(rec.params, empty=True),
        "metrics": flatten(rec.metrics, empty=True),
        "data": flatten(rec.data, empty=True),
        "model": flatten(rec.model, empty=True),
    }

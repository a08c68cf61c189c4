"""``gitlog blame``: the code changes that moved a metric most.

Every pair of consecutive runs on a line of history whose code differs is a code change;
it is credited with the metric's change between the two runs. The author and subject are
the new run's code commit's when the code commit changed (else the run commit's: the
change was uncommitted work); a merge as code commit is looked through to the commit it
brought in that changed the code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import load
from .errors import GitlogError
from .git import Repo
from .gitdiff import diff
from .historyquery import one_metric
from .index import Index
from .logdirs import moved_note
from .runlog import code_pathspec, collect, no_runs_error, walk_notes
from .timeline import MetricChange, build_rows


@dataclass
class BlameRow:
    commit: str            # the run after the change
    previous: str          # the run before it
    code_commit: str       # the commit that holds the change
    author: str
    date: str
    experiment: str
    subject: str
    value: float
    delta: float | None    # None: the change made the metric diverge (nan or infinite)
    pct: float | None
    verdict: str
    files: list[str]
    insertions: int
    deletions: int
    diff: str | None = None

    @property
    def short(self) -> str:
        return self.code_commit[:10]


@dataclass
class BlameResult:
    rows: list[BlameRow]
    warnings: list[str] = field(default_factory=list)  # runs skipped (malformed metrics)
    notes: list[str] = field(default_factory=list)  # fell back to every experiment, shallow


def blame(metric: str | Sequence[str], revs: Sequence[str] | str | None = (), *,
          all: bool = False, n: int | None = 10, patch: bool = False,
          repo: str | Path | Repo = ".") -> list[BlameRow]:
    """The ``n`` code changes with the largest effect on ``metric``, largest |delta|
    first (one that made it diverge, nan or infinite, before all, its ``delta`` and
    ``pct`` None), as ``BlameRow``s (see ``gitlog blame``).

    metric: one metric name (or a list of one).
    revs: a commit, branch, range or experiment name, or a list of them; default HEAD's
        line, else every experiment.
    all: every experiment branch and the main branch (``--all``).
    n: how many changes (default 10); None: every one.
    patch: add each change's diff as ``diff`` (``-p``).
    repo: the repository, or any folder inside it (a str or a Path).

    A row's ``commit`` is the run after the change (the CLI's ``run`` column),
    ``previous`` the run before it, ``code_commit`` the commit holding the change (the
    CLI's ``commit``). Notes and malformed-metrics warnings are issued as
    ``GitlogWarning``; nothing is printed.

        gitlog.blame("loss", all=True, n=5)
    """
    from .apiargs import count_arg, metric_arg, revs_arg
    from .recorder import warn_all

    metric = metric_arg(metric, "blame")
    count = count_arg(n, "blame", "largest")
    result = query_blame(metric, revs_arg(revs, "blame"), all=all,
                         n=sys.maxsize if count is None else count, patch=patch, repo=repo)
    warn_all(result.notes + result.warnings, stacklevel=2)
    return result.rows


def query_blame(metric: str | Sequence[str], revs: Sequence[str] = (), *, all: bool = False,
                n: int = 10, patch: bool = False, repo: str | Path | Repo = ".") -> BlameResult:
    """``blame``'s rows plus the notes and warnings the CLI prints on stderr."""
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = load(repo.root)
    if n < 1:
        raise GitlogError(f"-n must be at least 1, got {n}", hint="ask for the top K: -n 5")
    metric = one_metric(metric, "blame")
    with Index(repo.gitlog_dir, config.log_dir) as index:
        log = collect(repo, config, index, list(revs), all_=all, changes=True)
        if not log.runs:
            raise no_runs_error(revs, all, log.fell_back, repo=repo, config=config,
                                skipped=log.warnings)
        rows = build_rows(repo, config, index, log, [metric])
    facts = {r.facts.commit: r.facts for r in log.runs}
    compared = _compared_with(rows, metric)
    # a change that made the metric diverge has no delta but moved it most: first (it was
    # left out, so blame never named the change that made training diverge)
    moved = [r for r in rows if r.commit in compared and (
        r.metrics[metric].delta is not None or _diverged(r.metrics[metric]))]
    moved.sort(key=lambda r: (-_size(r.metrics[metric].delta), -facts[r.commit].time))
    moved = moved[:n]
    code_of = {}
    spec = code_pathspec(config)
    for row in moved:
        mine = facts[row.commit].code_commit
        before_run = compared[row.commit]
        before = facts[before_run].code_commit if before_run in facts else None
        code_of[row.commit] = _change_commit(repo, before, mine, spec) \
            if mine and mine != before and repo.rev_parse(mine) else row.commit
    info = _commit_info(repo, sorted(set(code_of.values())))
    out = []
    for row in moved:
        cell = row.metrics[metric]
        code = code_of[row.commit]
        before_run = compared[row.commit]
        author, date, subject = info.get(code, (row.author, row.date, row.subject))
        added = deleted = 0
        files = []
        for line in diff(repo, "-z", "--numstat", "--no-renames", before_run, row.commit,
                         "--", *spec).split("\0"):
            if "\t" not in line:
                continue
            a, d, path = line.split("\t", 2)
            added += int(a) if a.isdigit() else 0
            deleted += int(d) if d.isdigit() else 0
            files.append(path)
        # git's own patch: not a diff.external tool (difftastic, a GUI), no colours, a/ b/
        patch_text = diff(repo, before_run, row.commit, "--", *spec) if patch else None
        out.append(BlameRow(row.commit, before_run, code, author, date, row.experiment,
                            subject, cell.value if cell.value is not None else 0.0,
                            cell.delta, cell.pct,
                            cell.verdict or "", files, added, deleted, patch_text))
    return BlameResult(out, log.warnings, walk_notes(repo, log.fell_back) +
                       moved_note(repo, config, index.moved_from))


def _compared_with(rows: list, metric: str) -> dict[str, str]:
    """run -> the run its change in ``metric`` is measured from (the latest run before it
    on its line with a finite value), for the runs whose code changed since that run."""
    by_commit = {r.commit: r for r in rows}
    out = {}
    for row in rows:
        before, changed = row.previous, bool(row.code_changes)
        while before in by_commit and not _finite(by_commit[before].metrics[metric].value):
            changed = changed or bool(by_commit[before].code_changes)
            before = by_commit[before].previous
        if before and changed:
            out[row.commit] = before
    return out


def _change_commit(repo: Repo, before: str | None, mine: str, spec: list[str]) -> str:
    """The commit to credit with the change from code commit ``before`` to ``mine``:
    the newest commit between them that changed a code file, not a merge (whose author
    and subject say who merged, not who changed the code); the merged-in side first, as
    ``git log --topo-order`` lists it. ``mine`` when none is found. Without ``before``,
    only what ``mine`` itself brought (a merge: the side merged in)."""
    span = [f"{before}..{mine}"] if before and repo.rev_parse(before) else \
        [f"{mine}^1..{mine}"]  # (a root commit has no ^1: git fails, mine is kept)
    found = repo.git("log", "-1", "--no-merges", "--topo-order", "--format=%H", *span, "--",
                     *spec, check=False).strip()
    return found or mine


def _finite(value: float | None) -> bool:
    return value is not None and value - value == 0


def _size(delta: float | None) -> float:
    return float("inf") if delta is None else abs(delta)


def _diverged(cell: MetricChange) -> bool:
    """A run's metric is nan or infinite (history's verdict: worse, no delta)."""
    return cell.value is not None and not _finite(cell.value)


def _commit_info(repo: Repo, commits: list[str]) -> dict[str, tuple[str, str, str]]:
    if not commits:
        return {}
    out = repo.git("log", "--no-walk=unsorted", "--format=%H%x00%an <%ae>%x00%cI%x00%s",
                   *commits)
    info = {}
    for line in out.split("\n"):  # (not splitlines: a subject may hold a \r or \x1e)
        if not line:
            continue
        sha, author, date, subject = line.split("\0", 3)
        info[sha] = (author, date, subject)
    return info

"""``gitlog best``: the best runs across every experiment, optionally filtered."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from shlex import quote
from typing import Any

from .config import Config, load
from .details import details
from .errors import GitlogError
from .filters import parse
from .git import Repo
from .historyquery import (
    metric_names,
    no_direction_error,
    no_metric_error,
    no_metric_given,
    one_metric,
    only_flags_error,
)
from .index import Index
from .logdirs import moved_note
from .rowline import unsigned
from .runlog import collect, no_runs_error, walk_notes


@dataclass
class BestRow:
    rank: int
    commit: str
    date: str
    experiment: str
    run: str | None
    status: str | None
    subject: str
    value: float
    fields: dict[str, Any] = field(default_factory=dict)  # what --where looked at

    @property
    def short(self) -> str:
        return self.commit[:10]


@dataclass
class BestResult:
    rows: list[BestRow]
    metric: str
    direction: str  # min | max
    fields: list[str]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # a shallow clone: older runs missing


def query_best(metric: str | Sequence[str] | None, *, maximize: bool | None = None,
               where: str | None = None, n: int = 10, revs: Sequence[str] = (),
               repo: str | Path | Repo = ".") -> BestResult:
    """``metric`` None: the first of ``metrics.key`` that a run has (``history``'s
    default), said in a note."""
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = load(repo.root)
    if n < 1:
        raise GitlogError(f"-n must be at least 1, got {n}", hint="ask for the top K: -n 5")
    defaulted = metric is None
    if metric is not None:
        metric = one_metric(metric, "best")
    condition = parse(where) if where is not None else None
    with Index(repo.gitlog_dir, config.log_dir) as index:
        log = collect(repo, config, index, list(revs), all_=not revs)
        if not log.runs:
            raise no_runs_error(revs, not revs, log.fell_back, repo=repo, config=config,
                                skipped=log.warnings)
        if metric is None:
            metric = _key_metric(config, log, repo)
        if maximize is None:
            lower = config.lower(metric)
            if lower is None:
                raise no_direction_error([metric], "best ranks runs")
            maximize = not lower
        names = metric_names(config, metric)
        candidates = []
        for entry in log.runs:
            flat = entry.facts.values()  # the numbers, and booleans for --where
            value = next((flat[n_] for n_ in names if n_ in flat), None)
            if value is not None and value.__class__ is not bool:
                candidates.append((entry, unsigned(value), flat))
        if not candidates:
            if any(e.facts.metric(names, finite=False) is not None for e in log.runs):
                raise GitlogError(f"no run has a finite {metric}: every run that logged it "
                                  "diverged (nan or infinite), and best ranks none of those",
                                  hint=f"see them with: gitlog history -m {quote(metric)} --all")
            if any(e.facts.metric(names, flags=True) is not None for e in log.runs):
                raise only_flags_error(metric, "best")
            raise no_metric_error(log.metric_names(), [metric], None, repo)
        extra = details(repo, config, index, [e.facts.commit for e, _, _ in candidates]) \
            if condition is not None and condition.needs_params else {}
    shown_already = {metric, "experiment", "status", "commit", "subject"}
    fields = {}
    for item in condition.fields if condition else []:
        # a bare 'date' or 'rank' is a metric or param: labelled as the run's own
        # date and rank, its column would take theirs; in backticks it says what it is
        label = replace(item, quoted=True).label if item.kind == "bare" and \
            item.label in ("date", "rank") else item.label
        if label not in shown_already:
            fields[label] = item
    runs = []
    series = {str(k): metric_names(config, str(k))
              for k in config["metrics"].get("aliases") or {}} if condition else {}
    for entry, _, flat in candidates:
        f = entry.facts
        runs.append({"metrics": _with_series(flat, series),
                     "params": extra.get(f.commit, ({}, None))[0],
                     "experiment": entry.experiment, "status": f.status, "run": f.run_id,
                     "commit": f.commit, "subject": f.subject, "author": f.author})
    if condition is not None:  # a field no run has is a misspelling, not "no match"
        condition.check(runs, among=f" with the metric {metric}")
    kept = [(entry, value, run) for (entry, value, _), run in zip(candidates, runs, strict=True)
            if condition is None or condition.match(run)]
    kept.sort(key=lambda item: (-item[1] if maximize else item[1], -item[0].facts.time))
    rows = []
    for rank, (entry, value, run) in enumerate(kept[:n], 1):
        f = entry.facts
        shown = {label: unsigned(item.get(run)) for label, item in fields.items()}
        rows.append(BestRow(rank, f.commit, f.date, entry.experiment, f.run_id, f.status,
                            f.subject, value, shown))
    notes = [f"ranked by {metric}, the first of metrics.key the runs have: -m NAME ranks "
             "by another"] if defaulted else []
    return BestResult(rows, metric, "max" if maximize else "min", list(fields), log.warnings,
                      notes + walk_notes(repo, False) +
                      moved_note(repo, config, index.moved_from))


def _key_metric(config: Config, log: Any, repo: Repo) -> str:
    """The first name of ``metrics.key`` that a run logged as a number (nan too)."""
    keys = [str(k) for k in config["metrics"]["key"] if k]
    for key in keys:
        names = metric_names(config, key)
        if any(e.facts.metric(names, finite=False) is not None for e in log.runs):
            return key
    if not keys:
        raise no_metric_given()
    raise no_metric_error(log.metric_names(), keys, None, repo)


def _with_series(flat: dict[str, float], series: dict[str, list[str]]) -> dict[str, float]:
    """A run's metrics plus the name of each series of ``metrics.aliases`` it has under
    another of its names, so that --where reads ``acc`` as ``-m acc`` does."""
    missing = [names for name, names in series.items() if name not in flat]
    if not missing:
        return flat
    out = dict(flat)
    for names in missing:
        value = next((flat[n] for n in names if n in flat), None)
        if value is not None:
            out[names[0]] = value
    return out


def best(metric: str | Sequence[str], revs: Sequence[str] | str | None = (), *,
         maximize: bool | None = None, where: str | None = None, n: int | None = 10,
         repo: str | Path = ".") -> list[BestRow]:
    """The ``n`` best runs by ``metric``, best first, as ``BestRow``s (see ``gitlog best``).

    metric: one metric name (or a list of one).
    revs: a commit, branch, range or experiment name, or a list of them, that limits the
        search (as ``history`` and ``blame`` take them); default every experiment.
    maximize: True: higher is better, False: lower; default ``metrics.better`` in
        ``.gitlog.yaml`` (``--max``/``--min``).
    where: a filter, "params.lr < 0.1 and metrics.accuracy >= 0.9" (``--where``); the
        fields it reads are in each row's ``fields``.
    n: how many runs (default 10); None: every one.
    repo: the repository, or any folder inside it (a str or a Path).

        gitlog.best("accuracy", where="params.lr < 0.1", n=3)
        gitlog.best("loss", "baseline")

    Notes and malformed-metrics warnings are issued as ``GitlogWarning``; nothing is printed.
    """
    from .apiargs import count_arg, metric_arg, revs_arg, text_arg
    from .recorder import warn_all

    metric = metric_arg(metric, "best")
    revs = revs_arg(revs, "best")
    count = count_arg(n, "best", "best")
    where = text_arg(where, "best", "where", "params.lr < 0.1")
    result = query_best(metric, maximize=maximize, where=where,
                        n=sys.maxsize if count is None else count, revs=revs, repo=repo)
    warn_all(result.notes + result.warnings, stacklevel=2)
    return result.rows

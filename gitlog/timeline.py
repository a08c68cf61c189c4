"""``gitlog history``: how metrics moved across code versions, one row per run.

Each row: the run commit, its date, experiment and subject, each metric's value, its
change from the previous run on the same line of history (absolute, %, better or worse)
and the code files changed since that run. ``history()`` is the Python API; it returns
rows (dataclasses) and never prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .config import Config, load
from .git import Repo
from .historyquery import (
    HistoryResult,
    metric_names,
    no_metric_error,
    only_flags_error,
    query_history,
)
from .index import Index
from .rowline import change, unsigned
from .runlog import RunEntry, RunLog, code_changes
from .steps import parse_step, step_values

# in each stored column's key: a column stored before its changes were computed as now
# is not read back (4: no -0.0 value or delta; 3: nan and infinite values kept; 2: deltas
# to 15 digits at the values' scale, a % under 0.1 to 2)
COLUMNS_VERSION = 4

__all__ = ["HistoryResult", "HistoryRow", "HistoryTable", "MetricChange", "build_rows",
           "build_table", "history", "metric_names", "query_history"]


@dataclass(slots=True)
class MetricChange:
    """One metric in one run, against the previous run on its line that has it."""

    value: float | bool | None = None  # a boolean metric: true or false, no delta
    delta: float | None = None
    pct: float | None = None
    verdict: str | None = None  # better | worse | same


@dataclass(slots=True)
class HistoryRow:
    commit: str
    date: str
    experiment: str
    subject: str
    run: str | None
    status: str | None
    author: str
    previous: str | None
    code_changes: list[str] | None
    metrics: dict[str, MetricChange] = field(default_factory=dict)

    @property
    def short(self) -> str:
        return self.commit[:10]

    def value(self, metric: str | None = None) -> float | None:
        """The value of ``metric`` (default: the first metric asked for)."""
        name = metric if metric is not None else next(iter(self.metrics))
        return self.metrics[name].value if name in self.metrics else None

    def record(self) -> dict[str, Any]:
        """The row flat, as ``gitlog history --format json`` writes it (the commit in
        full; ``run``, ``status``, ``author`` and ``previous`` after it): the columns of
        ``pandas.DataFrame([r.record() for r in rows])``. A diverged value stays a float
        (``nan``; JSON writes ``"nan"``)."""
        out: dict[str, Any] = {"commit": self.commit, "date": self.date,
                               "experiment": self.experiment, "subject": self.subject}
        for name, m in self.metrics.items():
            out.update({name: m.value, f"{name}_delta": m.delta, f"{name}_pct": m.pct,
                        f"{name}_verdict": m.verdict})
        out.update(code_changes=self.code_changes, run=self.run, status=self.status,
                   author=self.author, previous=self.previous)
        return out


class HistoryTable:
    """A history as columns, one entry a run (oldest first): what ``HistoryRow``s are
    made of, without making them (the CLI renders the columns directly)."""

    def __init__(self, runs: list[RunEntry], metrics: list[str],
                 cells: dict[str, tuple[list, list, list, list]],
                 changes: list[list[str] | None]) -> None:
        self.runs = runs
        self.metrics = metrics
        self.cells = cells  # metric -> (values, deltas, pcts, verdicts)
        self.changes = changes

    def rows(self, keep: Sequence[int] | None = None) -> list[HistoryRow]:
        out = []
        cells = [(m, *self.cells[m]) for m in self.metrics]
        for i in range(len(self.runs)) if keep is None else keep:
            run = self.runs[i]
            f = run.facts
            out.append(HistoryRow(
                f.commit, f.date, run.experiment, f.subject, f.run_id, f.status, f.author,
                run.previous, self.changes[i],
                {m: MetricChange(v[i], d[i], p[i], w[i]) for m, v, d, p, w in cells}))
        return out


def _values(repo: Repo, config: Config, log: RunLog, index: Index, names: list[str],
            which: str | None) -> list[float | None]:
    """The value of the first of ``names`` in each run (``which``: a step of its series);
    nan and infinities too (a diverged run, which blame names: it read as no value)."""
    if which is not None:
        return [unsigned(v) for v in step_values(repo, config, index,
                                                 [r.facts.commit for r in log.runs], names,
                                                 which)]
    return [unsigned(run.facts.metric(names, finite=False)) for run in log.runs]


def _changes(column: list[float | None], previous: list[int],
             lower: bool | None) -> tuple[list, list, list]:
    """Deltas, % and verdicts of each value against the latest one before it on its line
    (as history's: a nan or infinite value is worse, with no delta, and the next value
    compares with the latest finite one)."""
    last: list[float | None] = []  # the latest finite value on each run's line
    deltas: list[float | None] = []
    pcts: list[float | None] = []
    verdicts: list[str | None] = []
    for i, value in enumerate(column):
        p = previous[i]
        old = last[p] if p >= 0 else None
        last.append(old if value is None or value - value != 0 else value)
        if value is None or old is None:
            deltas.append(None)
            pcts.append(None)
            verdicts.append(None)
            continue
        delta, pct, verdict = change(value, old, lower)
        deltas.append(delta)
        pcts.append(pct)
        verdicts.append(verdict)
    return deltas, pcts, verdicts


def build_table(repo: Repo, config: Config, index: Index, log: RunLog, metrics: list[str],
                step: str | None = None) -> HistoryTable:
    """Each metric's value in each run and its change from the previous run on its line
    that has it; the code files changed since the previous run. The columns are kept in
    the index with the walk, so an unchanged repository answers without reading a run."""
    import json

    which = parse_step(step) if step is not None else None
    previous: list[int] | None = None
    cells: dict[str, tuple[list, list, list, list]] = {}
    for m in metrics:
        names = metric_names(config, m)
        lower = config.lower(m)
        key = json.dumps([names, which, lower, COLUMNS_VERSION])
        stored = index.column(log.key, key) if log.key else None
        if stored is not None:
            try:
                got = json.loads(stored)
                if len(got) == 4 and all(len(c) == len(log.runs) for c in got):
                    cells[m] = tuple(got)  # type: ignore[assignment]
                    continue
            except (ValueError, TypeError):
                pass
        column = _values(repo, config, log, index, names, which)
        if previous is None:
            where = {run.facts.commit: i for i, run in enumerate(log.runs)}
            previous = [where.get(run.previous, -1) if run.previous else -1
                        for run in log.runs]
        cells[m] = (column, *_changes(column, previous, lower))
        if log.key:
            index.put_column(log.key, key, json.dumps(cells[m]))
    if log.runs and all(v is None for m in metrics for v in cells[m][0]):
        for m in metrics if which is None else ():  # (blame's numbers: deltas)
            names = metric_names(config, m)
            if any(r.facts.metric(names, flags=True) is not None for r in log.runs):
                raise only_flags_error(m, "blame")
        raise no_metric_error(log.metric_names(), metrics, step, repo)
    if log.runs and all(v is None or v - v != 0 for m in metrics for v in cells[m][0]):
        from shlex import quote

        from .errors import GitlogError

        raise GitlogError(f"no run has a finite {metrics[0]}: every run that logged it "
                          "diverged (nan or infinite), and blame measures a change from a "
                          "finite value", hint=f"see them with: gitlog history -m "
                                               f"{quote(metrics[0])} --all")
    changes = code_changes(repo, config, index, log)
    return HistoryTable(log.runs, metrics, cells, changes)


def build_rows(repo: Repo, config: Config, index: Index, log: RunLog, metrics: list[str],
               step: str | None = None) -> list[HistoryRow]:
    return build_table(repo, config, index, log, metrics, step).rows()


def history(metric: str | Sequence[str] | None = None,
            revs: Sequence[str] | str | None = (), *,
            all: bool = False, repo: str | Path = ".", step: str | int | None = None,
            since: str | date | None = None, until: str | date | None = None,
            n: int | None = None,
            first_parent: bool = False,
            regressions: bool | str | float | None = None) -> list[HistoryRow]:
    """How ``metric`` moved across runs: one ``HistoryRow`` a run, oldest first (see
    ``gitlog history``).

    metric: a name, a list of names or names joined by commas ("loss,accuracy"); default
        those of ``metrics.key`` in ``.gitlog.yaml`` that the runs have.
    revs: a commit, branch, range ("main..exp/x") or experiment name, or a list of them;
        default HEAD's line, else every experiment.
    all: every experiment branch and the main branch (``--all``).
    repo: the repository, or any folder inside it (a str or a Path).
    step: "last", "min", "max" or a step number: that point of each run's series instead
        of the summary value (``--step``).
    since, until: only runs committed in that window: text git reads ("2 weeks ago",
        "2024-05-01"), a ``datetime`` (that moment) or a ``date`` (that whole day).
    n: only the newest n rows; None: every row.
    first_parent: follow first parents only (``--first-parent``).
    regressions: True, or a threshold (0.05, or "5%" relative), keeps only the runs that
        made a metric worse (``--regressions``).

    Each row has ``commit``, ``date`` (ISO 8601 text), ``experiment``, ``subject``, ``run``,
    ``status``, ``author``, ``previous`` (the run it is compared with), ``code_changes``
    and ``metrics``: name -> ``MetricChange(value, delta, pct, verdict)``;
    ``row.record()`` is the row as ``gitlog history --format json`` writes it (a dict, for
    ``pandas.DataFrame``). Notes and malformed-metrics warnings are issued as
    ``GitlogWarning``; nothing is printed.

        rows = gitlog.history("loss", all=True)
        rows[-1].metrics["loss"].delta
        pandas.DataFrame([r.record() for r in rows])
    """
    from .apiargs import count_arg, metric_arg, revs_arg
    from .recorder import warn_all

    metric = metric_arg(metric, "history")
    revs = revs_arg(revs, "history")
    n = count_arg(n, "history", "newest")
    r = Repo(repo)
    config = load(r.root)
    result = query_history(
        metric, revs, all=all, repo=r,
        config=config, step=None if step is None else str(step), since=since, until=until,
        n=n, first_parent=first_parent,
        # (by identity: 1 == True, and regressions=1 is a threshold of 1, not "any")
        regressions=None if regressions is None or isinstance(regressions, bool)
        else regressions,
        regressions_only=regressions is not None and regressions is not False)
    warn_all(result.notes + result.warnings, stacklevel=2)
    return result.rows


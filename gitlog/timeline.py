"""``gitlog history``: how metrics moved across code versions, one row per run.

Each row: the run commit, its date, experiment and subject, each metric's value, its
change from the previous run on the same line of history (absolute, %, better or worse)
and the code files changed since that run. ``history()`` is the Python API; it returns
rows (dataclasses) and never prints.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config, load
from .errors import GitlogError
from .git import Repo
from .historyrows import change
from .index import Index
from .runlog import (
    Progress,
    RunEntry,
    RunLog,
    code_changes,
    no_runs_error,
    paused_gc,
    targets,
    walk_notes,
)
from .steps import parse_step, step_values


@dataclass(slots=True)
class MetricChange:
    """One metric in one run, against the previous run on its line that has it."""

    value: float | None = None
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


class HistoryResult:
    """The rows a query keeps (oldest first, as ``historyrows`` lines), and the notes and
    warnings the CLI prints on stderr."""

    def __init__(self, kept: Iterable[str], metrics: list[str], better: dict[str, str],
                 notes: list[str] | None = None, warnings: list[str] | None = None) -> None:
        self.kept = kept
        self.metrics = metrics
        self.better = better
        self.notes = notes or []
        self.warnings = warnings or []
        self._rows: list[HistoryRow] | None = None

    @property
    def rows(self) -> list[HistoryRow]:
        if self._rows is None:
            from .historyrows import Layout

            layout = Layout(len(self.metrics))
            self._rows = []
            for line in self.kept:
                commit, previous, date, experiment, subject, author, run, status, _, \
                    changes, cells = layout.record(line)
                self._rows.append(HistoryRow(
                    commit, date, experiment, subject, run, status, author, previous, changes,
                    {m: MetricChange(*cell) for m, cell in zip(self.metrics, cells,
                                                               strict=True)}))
        return self._rows


def metric_names(config: Config, metric: str) -> list[str]:
    """``metric`` and the other names of its series (config ``metrics.aliases``)."""
    aliases = config["metrics"].get("aliases") or {}
    for canonical, others in aliases.items():
        group = [str(canonical), *(str(o) for o in others)]
        if metric in group:
            return [metric, *(g for g in group if g != metric)]
    return [metric]


def parse_threshold(text: str | float | None) -> tuple[float, bool] | None:
    """``--regressions`` threshold: '0.05' (absolute) or '5%' (relative); None: any."""
    if text is None:
        return None
    raw = str(text).strip()
    pct = raw.endswith("%")
    try:
        value = float(raw[:-1] if pct else raw)
    except ValueError:
        raise GitlogError(f"bad regression threshold {raw!r}",
                          hint="give a number (0.05) or a percentage (5%)") from None
    return abs(value), pct


def _timestamp(repo: Repo, option: str, text: str | None) -> int | None:
    if not text:
        return None
    out = repo.git("rev-parse", f"--{option}={text}").strip()
    try:
        return int(out.split("=", 1)[1])
    except (IndexError, ValueError):
        raise GitlogError(f"bad --{option} date {text!r}",
                          hint="use a date git understands: 2024-05-01, '2 weeks ago'") \
            from None


def _values(repo: Repo, config: Config, log: RunLog, index: Index, names: list[str],
            which: str | None) -> list[float | None]:
    """The value of the first of ``names`` in each run (``which``: a step of its series)."""
    if which is not None:
        return step_values(repo, config, index, [r.facts.commit for r in log.runs], names,
                           which)
    return [run.facts.metric(names) for run in log.runs]


def _changes(column: list[float | None], previous: list[int],
             lower: bool) -> tuple[list, list, list]:
    """Deltas, % and verdicts of each value against the latest one before it on its line."""
    last: list[float | None] = []  # the latest value on each run's line, itself included
    deltas: list[float | None] = []
    pcts: list[float | None] = []
    verdicts: list[str | None] = []
    for i, value in enumerate(column):
        p = previous[i]
        old = last[p] if p >= 0 else None
        if value is None or old is None:
            last.append(old if value is None else value)
            deltas.append(None)
            pcts.append(None)
            verdicts.append(None)
            continue
        last.append(value)
        delta, pct, verdict = change(value, old, lower)
        deltas.append(delta)
        pcts.append(pct)
        verdicts.append(verdict)
    return deltas, pcts, verdicts


def _known_metrics(log: RunLog) -> list[str]:
    seen: dict[str, None] = {}
    for run in log.runs:
        for name in run.facts.metrics():
            seen.setdefault(name, None)
    return sorted(seen)


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
        lower = config.better(m) == "lower"
        key = json.dumps([names, which, lower])
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
        raise no_metric_error(_known_metrics(log), metrics, step)
    changes = code_changes(repo, config, index, log)
    return HistoryTable(log.runs, metrics, cells, changes)


def build_rows(repo: Repo, config: Config, index: Index, log: RunLog, metrics: list[str],
               step: str | None = None) -> list[HistoryRow]:
    return build_table(repo, config, index, log, metrics, step).rows()


def _is_regression(cells: Sequence[tuple], threshold: tuple[float, bool] | None) -> bool:
    for _, delta, pct, verdict in cells:
        if verdict != "worse" or delta is None:
            continue
        if threshold is None:
            return True
        size = abs(pct) if threshold[1] and pct is not None else \
            (abs(delta) if not threshold[1] else None)
        if size is not None and size >= threshold[0]:
            return True
    return False


def query_history(metrics: Sequence[str], revs: Sequence[str] = (), *, all: bool = False,
                  repo: str | Path | Repo = ".", config: Config | None = None,
                  step: str | None = None, since: str | None = None,
                  until: str | None = None, n: int | None = None,
                  first_parent: bool = False, regressions: str | float | None = None,
                  regressions_only: bool = False,
                  progress: Progress | None = None) -> HistoryResult:
    """Rows plus the notes and warnings the CLI prints on stderr."""
    from .historyrows import Kept, Layout, MetricSpec

    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    metrics = [m for m in dict.fromkeys(metrics) if m]
    if not metrics:
        raise GitlogError("no metric given", hint="name one: --metric loss")
    threshold = parse_threshold(regressions)
    which = parse_step(step) if step is not None else None
    after, before = _timestamp(repo, "since", since), _timestamp(repo, "until", until)
    specs = [MetricSpec(m, tuple(metric_names(config, m)), config.better(m) == "lower", which)
             for m in metrics]
    with Index(repo.gitlog_dir, config.log_dir) as index, paused_gc():
        rows, fell_back = _walk_rows(repo, config, index, list(revs), all, first_parent,
                                     specs, progress)
        if not rows.lines:
            raise no_runs_error(revs, all, fell_back)
        if not _has_values(rows.lines, len(specs)):
            raise no_metric_error(_metrics_in(index, rows.lines), metrics, step)
    layout = Layout(len(specs))
    tests: list[Callable[[str], bool]] = []
    if after is not None or before is not None:
        tests.append(lambda line: (after is None or layout.time(line) >= after) and
                     (before is None or layout.time(line) <= before))
    if regressions_only or threshold is not None:
        tests.append(lambda line: _is_regression(layout.cells(line), threshold))

    def keep(line: str) -> bool:  # (``all`` is the option here)
        return not any(not test(line) for test in tests)

    kept = Kept(rows.lines, keep if tests else None, n)
    return HistoryResult(kept, metrics, {m: config.better(m) for m in metrics},
                         walk_notes(repo, fell_back), rows.warnings)


def _walk_rows(repo: Repo, config: Config, index: Index, revs: list[str], all_: bool,
               first_parent: bool, specs: list, progress: Progress | None) -> tuple:
    """The rows of ``revs`` (every experiment if none and HEAD holds no runs) and
    whether it fell back to every experiment: from the index, else from the last walk
    of the same revisions plus the runs since, else from a whole walk."""
    from .historyrows import Rows, cached, extend_rows, walk_rows
    from .runlog import resolve, walk_base

    def rows_of(tokens: list[str], resolved: str | None) -> Rows:
        if not tokens:
            return Rows([], [])
        resolved = resolve(repo, tokens, resolved)
        base = walk_base(repo, config, tokens, first_parent)
        key = base + "\x1e" + resolved
        found = cached(index, key, specs) or extend_rows(
            repo, config, index, tokens, key, specs, (base, resolved),
            first_parent=first_parent, progress=progress)
        return found or walk_rows(repo, config, index, tokens, key, specs,
                                  first_parent=first_parent, progress=progress,
                                  tip=(base, resolved))

    rows = rows_of(*targets(repo, config, revs, all_))
    if rows.lines or revs or all_:
        return rows, False
    everything = rows_of(*targets(repo, config, (), True))
    return (everything, True) if everything.lines else (rows, False)


def _has_values(lines: Iterable[str], metrics: int) -> bool:
    """Whether any line has a value for any metric."""
    from .historyrows import Layout

    layout = Layout(metrics)
    return any(cell[0] is not None for line in lines for cell in layout.cells(line))


def _metrics_in(index: Index, lines: Iterable[str]) -> list[str]:
    """Every metric the runs of ``lines`` logged (their facts are in the index)."""
    from .historyrows import SEP

    seen: dict[str, None] = {}
    facts = index.facts()
    for line in lines:
        item = facts.get(line.split(SEP, 1)[0])
        for name in item.metrics() if item else ():
            seen.setdefault(name, None)
    return sorted(seen)


def no_metric_error(known: list[str], metrics: list[str], step: str | None) -> GitlogError:
    """No run has any of ``metrics``: say which metrics the runs do have."""
    shown = ", ".join(known[:15]) + (" ..." if len(known) > 15 else "")
    name = metrics[0] if len(metrics) == 1 else ", ".join(metrics)
    return GitlogError(f"no run has the metric {name}" + (" at that step" if step else ""),
                       hint=f"metrics in these runs: {shown}" if known else
                       "these runs logged no metrics")


def history(metric: str | Sequence[str] | None = None, revs: Sequence[str] | str = (), *,
            all: bool = False, repo: str | Path = ".", step: str | int | None = None,
            since: str | None = None, until: str | None = None, n: int | None = None,
            first_parent: bool = False,
            regressions: bool | str | float | None = None) -> list[HistoryRow]:
    """How ``metric`` moved across runs, oldest first (see ``gitlog history``).

    ``metric``: a name or several (default: ``metrics.key`` from the config); ``revs``:
    commits, ranges or experiment names (default HEAD's line, else every experiment);
    ``regressions``: True, or a threshold (0.05 or '5%'), keeps only runs that made a
    metric worse. Notes and malformed-metrics warnings are issued as ``GitlogWarning``.

        rows = gitlog.history("loss", all=True)
        rows[-1].metrics["loss"].delta
    """
    from .recorder import GitlogWarning

    r = Repo(repo)
    config = load(r.root)
    if metric is None:
        names = list(config["metrics"]["key"])
    else:
        names = [metric] if isinstance(metric, str) else list(metric)
    result = query_history(
        names, [revs] if isinstance(revs, str) else list(revs), all=all, repo=r,
        config=config, step=None if step is None else str(step), since=since, until=until,
        n=n, first_parent=first_parent,
        regressions=None if regressions in (None, False, True) else regressions,
        regressions_only=regressions is not None and regressions is not False)
    for text in result.notes + result.warnings:
        warnings.warn(text, GitlogWarning, stacklevel=2)
    return result.rows


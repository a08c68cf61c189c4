"""The rows ``gitlog history`` shows: read from the index, or from the last walk plus the
runs since, or walked (``historyrows``); then filtered by date, regression and count.
``query_history`` returns them as a ``HistoryResult`` of stored lines; ``timeline.history``
(the Python API) turns them into dataclasses. This module imports no dataclass and no
typing: the CLI's fast path for ``history`` loads it at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .config import Config, load
from .errors import GitlogError
from .git import Repo
from .index import Index
from .runlog import Progress, no_runs_error, paused_gc, targets, walk_notes
from .steps import parse_step

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from datetime import date
    from typing import Any

    from .timeline import HistoryRow


class HistoryResult:
    """The rows a query keeps (oldest first, as ``rowline`` lines), and the notes and
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
            from .rowline import Layout
            from .timeline import HistoryRow, MetricChange

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
    return config.series(metric)


def parse_threshold(text: str | float | None) -> tuple[float, bool] | None:
    """``--regressions`` threshold: '0.05' (absolute) or '5%' (relative); None: any."""
    if text is None:
        return None
    raw = str(text).strip()
    pct = raw.endswith("%")
    hint = "give a number of 0 or more (0.05) or a percentage (5%)"
    try:
        value = float(raw[:-1] if pct else raw)
    except ValueError:
        from shlex import quote

        value = -1.0  # a revision, most likely, read as the threshold of --regressions
        hint += f"; to list the regressions of {raw}, name it first: gitlog history " \
                f"{quote(raw)} --regressions"
    if not 0 <= value < float("inf"):  # negative, nan, inf
        raise GitlogError(f"bad regression threshold {raw!r}", hint=hint)
    return value, pct


def _timestamp(repo: Repo, option: str, text: Any) -> int | None:
    """``--since``/``--until`` as a Unix time, read as git reads dates, but for two
    things git does that surprise: a day alone (2024-05-01, jan 1 2024, last monday,
    today) means that whole day (git would take the current time of day on it), and text git
    cannot read at all is an error (git would take it as now). From Python, a ``datetime``
    is that moment (naive: local time, as Python reads it) and a ``date`` that day."""
    if hasattr(text, "timestamp"):  # a datetime
        return int(text.timestamp())
    if hasattr(text, "isoformat"):  # a date: the whole day, as 2024-05-01 is read
        text = text.isoformat()
    if not text:
        return None
    if not isinstance(text, str):
        raise GitlogError(f"bad --{option} date {text!r}",
                          hint="use a date git understands: 2024-05-01, '2 weeks ago', "
                               "or a datetime.date or datetime.datetime")
    raw = text.strip()
    if raw == "now":  # git's expiry dates read 'now' as the end of time
        import time

        return int(time.time())
    if raw.lower() == "today":  # (git cannot read it) the day, as 2024-05-01 is read
        import time

        raw = time.strftime("%Y-%m-%d")
    day = _day_only(raw)
    if day:
        raw += " 00:00:00" if option == "since" else " 23:59:59"
    value = _git_date(repo, raw)
    if value < 0:
        raise GitlogError(f"bad --{option} date {text!r}",
                          hint="use a date git understands: 2024-05-01, '2024-05-01 "
                               "14:00 +0200', '2 weeks ago'")
    return value if day else _at_clock_time(repo, raw, option, value)


def _git_date(repo: Repo, raw: str, now: int | None = None) -> int:
    """``raw`` as git reads a date (at the time ``now``, else the clock's); -1 if it
    cannot."""
    out = repo.git("-c", f"gitlog.date={raw}", "config", "--type=expiry-date",
                   "gitlog.date", check=False,
                   env=None if now is None else {"GIT_TEST_DATE_NOW": str(now)})
    try:  # (git's words for no date or every date are no dates here)
        return -1 if raw in ("all", "never", "false") else int(out.strip())
    except ValueError:
        return -1


def _at_clock_time(repo: Repo, raw: str, option: str, value: int) -> int:
    """A date in words read with the day's start (``--since``) or end (``--until``) as
    its time of day when it names a day without one (git takes the current time of day).
    Read as if it were that time today and tomorrow: a date that does not move is a fixed
    day (its own time of day, if given, stays); one that moves is relative (2 weeks ago),
    kept as git read it."""
    import time

    t = time.localtime()
    clock = (0, 0, 0) if option == "since" else (23, 59, 59)
    today, tomorrow = (int(time.mktime((t.tm_year, t.tm_mon, t.tm_mday + d, *clock, 0, 0, -1)))
                       for d in (0, 1))
    fixed = _git_date(repo, raw, today)
    return fixed if fixed >= 0 and fixed == _git_date(repo, raw, tomorrow) else value


def _day_only(text: str) -> bool:
    """A date without a time: 2024-05-01 (or 2024/05/01, 2024.05.01)."""
    parts = text.replace("/", "-").replace(".", "-").split("-")
    return len(parts) == 3 and len(parts[0]) == 4 and \
        all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts)


def _is_regression(cells: Sequence[tuple], threshold: tuple[float, bool] | None) -> bool:
    for _, delta, pct, verdict in cells:
        if verdict != "worse":
            continue
        if threshold is None or delta is None:  # (no delta: it diverged, nan or inf)
            return True
        # (a % threshold: from 0, any worsening is a change of infinite %)
        size = abs(delta) if not threshold[1] else abs(pct) if pct is not None else \
            float("inf")
        if size >= threshold[0]:
            return True
    return False


# what a history row has besides its metrics: HistoryRow.record()'s keys, which
# history --format json/csv/table write (but run, status, author and previous)
ROW_FIELDS = ("commit", "date", "experiment", "subject", "code_changes", "run", "status",
              "author", "previous")


def refuse_row_field_clash(metrics: Sequence[str]) -> None:
    """Refuse a metric named as a row's field (``run``, ``status``...) or as another
    metric's column (``loss_delta`` next to ``loss``): one would overwrite the other, in
    one format and not another, and in ``HistoryRow.record()``."""
    from .names import refuse_column_clash

    taken = [*ROW_FIELDS, *(f"{m}_{s}" for m in metrics for s in ("delta", "pct", "verdict"))]
    for m in metrics:
        refuse_column_clash(m, taken)


def query_history(metrics: str | Sequence[str] | None, revs: Sequence[str] = (), *,
                  all: bool = False,
                  repo: str | Path | Repo = ".", config: Config | None = None,
                  step: str | None = None, since: str | date | None = None,
                  until: str | date | None = None, n: int | None = None,
                  first_parent: bool = False, regressions: str | float | None = None,
                  regressions_only: bool = False,
                  progress: Progress | None = None) -> HistoryResult:
    """Rows plus the notes and warnings the CLI prints on stderr. ``metrics`` None: those
    of ``metrics.key`` that the runs have (an error only when they have none)."""
    from .rowline import Kept, Layout, MetricSpec, Narrowed

    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    defaulted = metrics is None
    metrics = [m for m in dict.fromkeys(config["metrics"]["key"] if metrics is None
                                        else split_metrics(metrics)) if m]
    if not metrics:
        raise no_metric_given()
    threshold = parse_threshold(regressions)
    if n is not None and n < 1:
        raise GitlogError(f"-n must be at least 1, got {n}",
                          hint="ask for the newest N rows: -n 10")
    which = parse_step(step) if step is not None else None
    after, before = _timestamp(repo, "since", since), _timestamp(repo, "until", until)
    specs = [MetricSpec(m, tuple(metric_names(config, m)), config.lower(m), which)
             for m in metrics]
    if (regressions_only or threshold is not None) and \
            not any(s.lower is not None for s in specs):  # (``all`` is the option)
        raise no_direction_error(metrics, "--regressions tells worse runs")
    with Index(repo.gitlog_dir, config.log_dir) as index, paused_gc():
        rows, fell_back = _walk_rows(repo, config, index, list(revs), all, first_parent,
                                     specs, progress)
        if not rows.lines:
            raise no_runs_error(revs, all, fell_back, repo=repo, config=config,
                                skipped=rows.warnings)
        missing = _without_values(rows.lines, len(specs))
        if missing and not (defaulted and len(missing) < len(specs)):
            raise no_metric_error(_metrics_in(index, rows.lines),
                                  [metrics[i] for i in missing], step, repo)
        notes = walk_notes(repo, fell_back)
        if index.moved_from:  # (once, the query after log_dir changed)
            from .logdirs import moved_note

            notes += moved_note(repo, config, index.moved_from)
        if index.busy:
            notes.append("the index is locked by another process: this answer was not "
                         "cached, so the next query walks again")
    lines = rows.lines
    if missing:  # key metrics nobody asked for by name: show those the runs have
        shown = [i for i in range(len(specs)) if i not in missing]
        lines = Narrowed(lines, len(specs), shown)
        metrics, specs = [metrics[i] for i in shown], [specs[i] for i in shown]
    refuse_row_field_clash(metrics)
    layout = Layout(len(specs))
    tests: list[Callable[[str], bool]] = []
    if after is not None or before is not None:
        tests.append(lambda line: (after is None or layout.time(line) >= after) and
                     (before is None or layout.time(line) <= before))
    if regressions_only or threshold is not None:
        tests.append(lambda line: _is_regression(layout.cells(line), threshold))

    def keep(line: str) -> bool:  # (``all`` is the option here)
        return not any(not test(line) for test in tests)

    kept = Kept(lines, keep if tests else None, n)
    return HistoryResult(kept, metrics, {m: config.better(m) for m in metrics}, notes,
                         rows.warnings)


def _walk_rows(repo: Repo, config: Config, index: Index, revs: list[str], all_: bool,
               first_parent: bool, specs: list, progress: Progress | None) -> tuple:
    """The rows of ``revs`` (every experiment if none and HEAD holds no runs) and
    whether it fell back to every experiment: from the index, else from the last walk
    of the same revisions plus the runs since, else from a whole walk."""
    from .historyrows import extend_rows, walk_rows
    from .rowstore import CacheChanged, Rows, StoredLines, cached
    from .runlog import moved, resolve, walk_base

    def rows_of(tokens: list[str], resolved: str | None) -> Rows:
        if not tokens:
            return Rows([], [])
        resolved = resolve(repo, tokens, resolved)
        base = walk_base(repo, config, tokens, first_parent)
        key = base + "\x1e" + resolved

        def uncached() -> Rows:  # the walk again, the index left alone
            return walk_rows(repo, config, Index(index.path.parent, config.log_dir, use=False),
                             tokens, key, specs, first_parent=first_parent)

        try:
            found = cached(index, key, specs)
            if found is not None:  # read while other queries may fill the cache: kept
                index.touch_walk(key)
            walked = found is None
            found = found or extend_rows(
                repo, config, index, tokens, key, specs, (base, resolved),
                first_parent=first_parent, progress=progress)
            found = found or walk_rows(repo, config, index, tokens, key, specs,
                                       first_parent=first_parent, progress=progress,
                                       tip=(base, resolved))
            if walked and moved(repo, tokens, resolved):  # a run committed meanwhile: what
                index.forget_walk(key)  # the walk found is not what its key names
                found = uncached()
        except CacheChanged:  # another process rebuilt the index under this walk
            found = uncached()
        if isinstance(found.lines, StoredLines):
            found.lines.again = lambda: uncached().lines
        return found

    rows = rows_of(*targets(repo, config, revs, all_))
    if rows.lines or revs or all_:
        return rows, False
    everything = rows_of(*targets(repo, config, (), True))
    return (everything, True) if everything.lines else (rows, False)


def _without_values(lines: Iterable[str], metrics: int) -> list[int]:
    """The metrics (by position) that no line has a value for: a name no run logged,
    misspelled say (read until every metric has shown a value)."""
    from .rowline import Layout

    layout = Layout(metrics)
    missing = set(range(metrics))
    for line in lines:
        missing.difference_update([m for m in missing if layout.value(line, m) is not None])
        if not missing:
            break
    return sorted(missing)


def _metrics_in(index: Index, lines: Iterable[str]) -> list[str]:
    """Every metric the runs of ``lines`` logged (their facts are in the index)."""
    from .rowline import SEP

    seen: dict[str, None] = {}
    facts = index.facts()
    for line in lines:
        item = facts.get(line.split(SEP, 1)[0])
        for name in item.metric_names() if item else ():
            seen.setdefault(name, None)
    return sorted(seen)


def split_metrics(metrics: str | Sequence[str]) -> list[str]:
    """The metrics named: one name, several, or names joined by commas (``-m loss,accuracy``,
    ``history("loss,accuracy")``); naming none is an error, not the default."""
    names = [n.strip() for m in ([metrics] if isinstance(metrics, str) else metrics)
             for n in str(m).split(",") if n.strip()]
    if not names:
        raise no_metric_given()
    return names


def no_metric_given() -> GitlogError:
    """An empty metric name (``-m ''``)."""
    return GitlogError("no metric given", hint="name one: --metric loss")


def one_metric(metric: Any, query: str) -> str:
    """The one metric ``best``, ``blame`` and ``bisect`` go by: a name, or a list of one
    (as ``history`` takes them); several, or no name, is an error saying so."""
    joined = isinstance(metric, str) and "," in metric  # -m loss,accuracy, as history
    if joined:  # takes them (this said "no run has the metric loss,accuracy")
        metric = split_metrics(metric)
    if isinstance(metric, (list, tuple)) and len(metric) == 1:
        metric = metric[0]
    if isinstance(metric, (list, tuple)) and metric:
        first = str(metric[0])
        raise GitlogError(f"{query} goes by one metric, got {len(metric)}: "
                          f"{', '.join(map(str, metric))}",
                          hint=f"name one: -m {first} (in Python gitlog.{query}({first!r}));"
                               " history takes several" if joined else
                               f"name one: gitlog.{query}({first!r}, ...); gitlog.history "
                               "takes several")
    if not isinstance(metric, str) or not metric.strip():
        raise no_metric_given()
    return metric


_NEEDS = {"best": "best ranks numbers", "blame": "blame ranks changes of a number",
          "bisect": "bisect compares a number with --threshold"}


def only_flags_error(metric: str, query: str) -> GitlogError:
    """``best``, ``blame`` and ``bisect`` go by numbers: a metric every run logged as true
    or false has no order and no delta (``history`` and ``compare`` show it; ``--where``
    tests it)."""
    from shlex import quote

    from .filters import spell

    return GitlogError(f"{metric} holds true or false, not a number, in every run that "
                       f"logged it: {_NEEDS[query]}",
                       hint=f"see it run by run: gitlog history -m {quote(metric)}; keep the "
                            f"runs where it is true: gitlog best -m METRIC --where "
                            f"{quote(spell('metrics', metric) + ' == true')}")


def no_direction_error(metrics: list[str], query: str) -> GitlogError:
    """``metrics`` are better neither lower nor higher (``metrics.better``: none, or a
    counter such as ``step`` by default), and ``query`` ('best ranks runs', 'bisect
    tells bad runs from good ones') needs a way."""
    from shlex import quote

    names = " and ".join(metrics)
    fix = f"set one in .gitlog.yaml: metrics: {{better: {{{quote(metrics[0])}: lower}}}} " \
          "(or higher)"
    return GitlogError(f"{query} by which way of a metric is better, and {names} "
                       f"{'has' if len(metrics) == 1 else 'have'} none (a counter or a "
                       "setting; see metrics.better in .gitlog.yaml)",
                       hint=f"give --max or --min, or {fix}" if query.startswith("best")
                       else fix)


def no_metric_error(known: list[str], metrics: list[str], step: str | None,
                    repo: Repo | None = None) -> GitlogError:
    """No run has ``metrics``: say which metrics the runs do have (not ``step``, the
    number of the last step, unless it is all they have); in a shallow clone of ``repo``,
    that the runs beyond its history may have them."""
    known = [k for k in known if k != "step"] or known
    shown = ", ".join(known[:15]) + (" ..." if len(known) > 15 else "")
    name = f"metric {metrics[0]}" if len(metrics) == 1 else "metrics " + ", ".join(metrics)
    shallow = "; this is a shallow clone: runs older than its history may have " + \
        ("it" if len(metrics) == 1 else "them") + " (git fetch --unshallow brings them)" \
        if repo is not None and (repo.common_dir / "shallow").exists() else ""
    if step and all(m in known for m in metrics):  # logged, but not as that point
        series = step in ("last", "min", "max")
        return GitlogError(f"no run logged {' or '.join(metrics)} " +
                           ("as a step series (metrics/NAME.tsv)" if series else
                            f"at step {step}"),
                           hint="leave out --step for the value in metrics.json" +
                           ("" if series else ", or take --step last") + shallow)
    return GitlogError(f"no run has the {name}" + (" at that step" if step else ""),
                       hint=(f"metrics in these runs: {shown}" if known else
                             "these runs logged no metrics") + shallow)



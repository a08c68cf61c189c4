"""``gitlog history``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from . import pass_repo
from ._output import echo_chunks, format_option, iter_csv, iter_json
from ._table import Progress, iter_columns, note, sparkline, warn


def metric_option(func: Any) -> Any:
    return click.option("-m", "--metric", "metrics", multiple=True, metavar="NAME",
                        help="Metric to follow (repeatable, or comma-separated); default: "
                             "metrics.key from .gitlog.yaml.")(func)


def split_metrics(metrics: tuple[str, ...], config: Any) -> list[str]:
    names = [n.strip() for m in metrics for n in m.split(",") if n.strip()]
    return names or list(config["metrics"]["key"])


def history_columns(metrics: list[str]) -> tuple[list[str], dict[str, str]]:
    columns = ["commit", "date", "experiment", "subject"]
    kinds: dict[str, str] = {}
    for m in metrics:
        columns += [m, f"{m}_delta", f"{m}_pct", f"{m}_verdict"]
        kinds[f"{m}_delta"] = "delta"
        kinds[f"{m}_pct"] = "pct"
    columns.append("code_changes")
    return columns, kinds


def history_values(result: Any) -> dict[str, list[Any]]:
    """The kept rows of a HistoryResult as columns, by output column name."""
    table, keep = result.table, result.keep
    whole = len(keep) == len(table.runs)
    runs = table.runs if whole else [table.runs[i] for i in keep]

    def pick(column: list[Any]) -> list[Any]:
        return column if whole else [column[i] for i in keep]

    facts = [r.facts for r in runs]
    values: dict[str, list[Any]] = {
        "commit": [f.commit[:10] for f in facts], "date": [f.date for f in facts],
        "experiment": [r.experiment for r in runs], "subject": [f.subject for f in facts],
        "code_changes": pick(table.changes)}
    for m in table.metrics:
        value, delta, pct, verdict = table.cells[m]
        values[m] = pick(value)
        values[f"{m}_delta"] = pick(delta)
        values[f"{m}_pct"] = pick(pct)
        values[f"{m}_verdict"] = pick(verdict)
    return values


def spark_lines(values: dict[str, list[Any]], metrics: list[str],
                better: dict[str, str]) -> list[str]:
    lines = []
    for m in metrics:
        finite = [v for v in values[m] if v is not None]
        if not finite:
            continue
        lines.append(f"{m}  {sparkline(values[m])}  {finite[0]:.6g} -> {finite[-1]:.6g} "
                     f"over {len(finite)} runs ({better[m]} is better)")
    return lines


@click.command()
@click.argument("revs", nargs=-1)
@metric_option
@click.option("--all", "all_", is_flag=True,
              help="Every experiment branch and the main branch.")
@click.option("--step", metavar="last|min|max|STEP",
              help="Take this point of each run's step series instead of the summary value.")
@click.option("--since", metavar="DATE", help="Only runs committed after DATE.")
@click.option("--until", metavar="DATE", help="Only runs committed before DATE.")
@click.option("-n", "--max-count", "count", type=click.IntRange(min=0), metavar="N",
              help="Only the newest N runs.")
@click.option("--first-parent", is_flag=True, help="Follow only first parents.")
@click.option("--regressions", is_flag=False, flag_value="", default=None,
              metavar="[THRESHOLD]",
              help="Only runs that made a metric worse (by at least THRESHOLD: 0.05 or 5%).")
@format_option()
@pass_repo
def history(revs: tuple[str, ...], metrics: tuple[str, ...], all_: bool, step: str | None,
            since: str | None, until: str | None, count: int | None, first_parent: bool,
            regressions: str | None, fmt: str, repo: str) -> None:
    """How metrics moved across code versions: one row per run, oldest first.

    Each row shows the run's commit, date, experiment and subject, the metric's value,
    its change from the previous run on the same line of history (absolute and %),
    whether that is better or worse (metrics.better in .gitlog.yaml; loss-like names:
    lower), and the code files changed since that run.

    REVS are commits, branches, ranges (main..exp/x) or experiment names; default: the
    current branch, or every experiment when it holds no runs.

    Example: gitlog history --metric loss --all
    """
    from gitlog.config import load
    from gitlog.git import Repo
    from gitlog.timeline import query_history

    r = Repo(repo)
    config = load(r.root)
    names = split_metrics(metrics, config)
    progress = Progress()
    try:
        result = query_history(names, revs, all=all_, repo=r, config=config, step=step,
                               since=since, until=until, n=count, first_parent=first_parent,
                               regressions=regressions or None,
                               regressions_only=regressions is not None, progress=progress)
    finally:
        progress.done()
    for text in result.notes:
        note(text)
    for text in result.warnings:
        warn(text)
    if not result.rows:
        note("no runs match")
        if fmt not in ("json", "csv"):
            return
    from gitlog.runlog import paused_gc

    with paused_gc():
        echo_chunks(stream_history(result, fmt))


def render_history(result: Any, fmt: str) -> str:
    """The rows of a HistoryResult in ``fmt``; a table is headed by one sparkline a metric."""
    return "".join(stream_history(result, fmt))


def stream_history(result: Any, fmt: str) -> Iterator[str]:
    """``render_history`` in pieces, produced as they are written."""
    columns, kinds = history_columns(result.metrics)
    values = history_values(result)
    if fmt in ("json", "csv"):
        if fmt == "csv":  # lists read as in the table: "a.py, b.py"
            values["code_changes"] = [None if v is None else ", ".join(map(str, v))
                                      for v in values["code_changes"]]
        rows = (dict(zip(columns, cells, strict=True))
                for cells in zip(*(values[c] for c in columns), strict=True))
        yield from (iter_json if fmt == "json" else iter_csv)(rows, columns)
        return
    if fmt == "table":
        yield "\n".join([*spark_lines(values, result.metrics, result.better), ""]) + "\n"
    pieces = iter_columns([(c, values[c], kinds.get(c)) for c in columns], fmt)
    yield next(pieces)
    for text in pieces:
        yield "\n" + text

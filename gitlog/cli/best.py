"""``gitlog best`` and ``gitlog blame``."""

from __future__ import annotations

import re

import click

from ._group import pass_repo
from ._output import format_option
from ._table import emit, format_rows, markdown_text, note, refuse_column_clash, warn


@click.command()
@click.argument("revs", nargs=-1)
@click.option("-m", "--metric", metavar="NAME",
              help="Metric to rank by (default: the first of metrics.key the runs have).")
@click.option("--max", "maximize", is_flag=True, help="Higher is better.")
@click.option("--min", "minimize", is_flag=True, help="Lower is better.")
@click.option("--where", metavar="EXPR",
              help="Keep runs matching EXPR: comparisons on params.NAME, metrics.NAME "
                   "(metrics.`f1@0.5`: other characters in backticks), experiment, status, "
                   "run, commit, subject, author; "
                   "and, or, not, parentheses.")
@click.option("-n", "count", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many runs to show.")
@format_option()
@pass_repo
def best(revs: tuple[str, ...], metric: str | None, maximize: bool, minimize: bool,
         where: str | None, count: int, fmt: str, repo: str) -> None:
    """The best runs across all experiments by one metric.

    Direction: --max/--min, else metrics.better in .gitlog.yaml (loss-like names: lower;
    counters such as step have none: give --max or --min).
    REVS limit the search (default: every experiment branch and main).

    \b
    The --where language (no code is evaluated):
      params.lr < 0.1 and (metrics.accuracy >= 0.9 or experiment == 'baseline')
      not status == 'failed'
      metrics.`f1@0.5` > 0.8
    Operators: < <= > >= == (or =) != ; strings in quotes; a name with other
    characters in backticks (\\` inside for a backtick), one key as 'gitlog show'
    prints it; a comparison with a missing value is false; text that reads as a
    number ('0.1') compares with a number as one; commit == '29cff67' takes a short
    id (4 hex digits or more).

    Example: gitlog best --metric accuracy --where 'params.lr < 0.1' -n 3
    """
    from gitlog.errors import GitlogError
    from gitlog.ranking import query_best

    if maximize and minimize:
        raise GitlogError("--max and --min cannot be used together",
                          hint="give one: --max (higher is better) or --min (lower is better)")
    if metric is not None:
        refuse_column_clash(metric, ["rank", "commit", "date", "experiment", "status",
                                     "subject"])
    result = query_best(metric, maximize=True if maximize else False if minimize else None,
                        where=where, n=count, revs=revs, repo=repo)
    metric = result.metric
    for text in result.notes:
        note(text)
    for text in result.warnings:
        warn(text)
    rows = [{"rank": r.rank, "commit": r.short, "date": r.date, "experiment": r.experiment,
             metric: r.value, **r.fields, "status": r.status, "subject": r.subject}
            for r in result.rows]
    if not rows:
        note("no run matches")
        if fmt not in ("json", "csv"):
            return
    columns = ["rank", "commit", "date", "experiment", metric, *result.fields, "status",
               "subject"]
    emit(format_rows(rows, columns, fmt, {"subject": "subject", "rank": "number",
                                          metric: "number"}))


@click.command()
@click.argument("revs", nargs=-1)
@click.option("-m", "--metric", required=True, metavar="NAME", help="Metric to explain.")
@click.option("--all", "all_", is_flag=True, help="Every experiment branch and main.")
@click.option("-n", "count", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many changes to show.")
@click.option("-p", "--patch", is_flag=True, help="Show each change's diff too.")
@format_option()
@pass_repo
def blame(revs: tuple[str, ...], metric: str, all_: bool, count: int, patch: bool, fmt: str,
          repo: str) -> None:
    """The code changes that moved a metric most.

    Each change is a run whose code differs from the previous run on its line that has
    the metric; it gets the metric's change between them. Shows the commit holding the
    change, its author, the delta and the diff stat (-p: the diff).

    Example: gitlog blame --metric loss --all -p
    """
    from gitlog.attribution import query_blame
    from gitlog.display import visible, visible_lines

    refuse_column_clash(metric, ["commit", "author", "date", "experiment", "subject", "delta",
                                 "pct", "verdict", "files", "insertions", "deletions", "run",
                                 "previous_run", *(["diff"] if patch else [])])
    result = query_blame(metric, revs, all=all_, n=count, patch=patch, repo=repo)
    for text in result.notes:
        note(text)
    for text in result.warnings:
        warn(text)
    rows = result.rows
    if not rows:
        note("no code change between two runs that both have this metric")
        if fmt not in ("json", "csv"):
            return
    table = [{"commit": r.short, "author": r.author, "date": r.date,
              "experiment": r.experiment, "subject": r.subject, f"{metric}": r.value,
              "delta": r.delta, "pct": r.pct, "verdict": r.verdict, "files": r.files,
              "insertions": r.insertions, "deletions": r.deletions, "run": r.commit[:10],
              "previous_run": r.previous[:10]} for r in rows]
    columns = list(table[0]) if table else ["commit", "author", "date", "experiment",
                                            "subject", metric, "delta", "pct", "verdict",
                                            "files", "insertions", "deletions", "run",
                                            "previous_run"]
    if patch and fmt in ("json", "csv"):
        for item, r in zip(table, rows, strict=False):
            item["diff"] = r.diff
        columns.append("diff")
    emit(format_rows(table, columns, fmt, {"delta": "delta", "pct": "pct",
                                          "subject": "subject", metric: "number",
                                          "insertions": "number", "deletions": "number"}))
    if patch and fmt not in ("json", "csv"):
        for r in rows:
            title = f"{r.short} {visible(r.subject)} ({r.previous[:10]} -> {r.commit[:10]})"
            diff = visible_lines(r.diff or "").rstrip()
            if fmt == "markdown":  # a heading and a fenced block, longer than any ``` inside
                fence = "`" * max(3, 1 + max((len(m) for m in re.findall("`+", diff)),
                                             default=0))
                emit(f"\n#### {markdown_text(title)}\n\n{fence}diff\n{diff}\n{fence}")
            else:
                emit(f"\n=== {title}\n{diff}".rstrip())

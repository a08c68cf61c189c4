"""What ``gitlog history`` prints: the notes and warnings on stderr, then the rows as a
table headed by a sparkline a metric, Markdown, JSON or CSV. Imports no click: the CLI's
fast path runs ``show_history`` straight from the command line (``_fastpath``); the click
command in ``history`` calls it too.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._output import echo_chunks, iter_csv, iter_json
from ._table import Progress, iter_text_table, note, sparkline, warn

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any


def show_history(revs: tuple[str, ...], metrics: tuple[str, ...], all_: bool,
                 step: str | None, since: str | None, until: str | None, count: int | None,
                 first_parent: bool, regressions: str | None, fmt: str, repo: str) -> None:
    """Query and print a history; the arguments are ``gitlog history``'s options."""
    from gitlog.config import load
    from gitlog.git import Repo
    from gitlog.historyquery import query_history

    r = Repo(repo)
    config = load(r.root)
    progress = Progress()
    try:
        result = query_history(metrics or None, revs, all=all_, repo=r, config=config, step=step,
                               since=since, until=until, n=count, first_parent=first_parent,
                               regressions=regressions or None,
                               regressions_only=regressions is not None, progress=progress)
    finally:
        progress.done()
    for text in result.notes:
        note(text)
    for text in result.warnings:
        warn(text)
    if not result.kept:
        note("no runs match")
        if fmt not in ("json", "csv"):
            return
    from gitlog.runlog import paused_gc

    with paused_gc():
        echo_chunks(stream_history(result, fmt))


def history_columns(metrics: list[str]) -> list[str]:
    """The output's columns (query_history refused a metric named as one of them)."""
    columns = ["commit", "date", "experiment", "subject"]
    for m in metrics:
        columns += [m, f"{m}_delta", f"{m}_pct", f"{m}_verdict"]
    columns.append("code_changes")
    return columns


def spark_lines(result: Any) -> list[str]:
    from gitlog.rowline import Layout, shown_number

    value = Layout(len(result.metrics)).value
    lines = []
    for i, m in enumerate(result.metrics):
        values = [value(line, i) for line in result.kept]
        values = [None if v.__class__ is bool else v for v in values]  # true/false: no point
        finite = [v for v in values if v is not None and v - v == 0]
        if not finite:
            continue
        # an int as the table shows it (10000000000000001 was 1e+16 here)
        lines.append(f"{m}  {sparkline(values)}  {shown_number(finite[0])} -> "
                     f"{shown_number(finite[-1])} "
                     f"over {len(finite)} run{'s' if len(finite) > 1 else ''} "
                     + ("(no better way)" if result.better[m] == "none"
                        else f"({result.better[m]} is better)"))
    return lines


def render_history(result: Any, fmt: str) -> str:
    """The rows of a HistoryResult in ``fmt``; a table is headed by one sparkline a metric."""
    return "".join(stream_history(result, fmt))


def stream_history(result: Any, fmt: str) -> Iterator[str]:
    """``render_history`` in pieces, produced as they are written."""
    from gitlog.rowline import Layout

    columns = history_columns(result.metrics)
    layout = Layout(len(result.metrics))
    if fmt in ("json", "csv"):
        def rows() -> Iterator[dict[str, Any]]:
            for line in result.kept:
                commit, _, date, experiment, subject, _, _, _, _, changes, cells = \
                    layout.record(line)
                values: list[Any] = [commit[:10], date, experiment, subject]
                for cell in cells:
                    values += cell
                values.append(changes)  # CSV: a JSON array, as in JSON (iter_csv)
                yield dict(zip(columns, values, strict=True))
        yield from (iter_json if fmt == "json" else iter_csv)(rows(), columns)
        return
    sparks = spark_lines(result) if fmt == "table" else []
    if sparks:  # (none when no value is finite: no blank line either)
        yield "\n".join([*sparks, ""]) + "\n"
    numeric = [4 + 4 * m + k for m in range(len(result.metrics)) for k in range(3)]
    pieces = iter_text_table(lambda: map(layout.table, result.kept), columns, numeric, fmt,
                             subject=3)
    yield next(pieces)
    for text in pieces:
        yield "\n" + text

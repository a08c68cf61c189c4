"""``gitlog logs``."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

import click

from gitlog.config import LEVEL_NAMES
from gitlog.display import visible

from ._group import pass_repo
from ._output import echo_chunks, format_option, iter_csv, iter_json
from ._table import cell_text, is_number, iter_text_table, note, warn

CELL_WIDTH = 200  # the widest a message or fields column is padded to


@click.command()
@click.argument("rev", required=False)
@click.option("--level", metavar="LEVEL",
              help=f"Only events at this level or above: {LEVEL_NAMES}.")
@click.option("--grep", metavar="TEXT", help="Only events whose message or fields (as shown: "
                                             "lr=0.1) contain TEXT (case-insensitive).")
@format_option()
@pass_repo
def logs(rev: str | None, level: str | None, grep: str | None, fmt: str, repo: str) -> None:
    """A run's events: time, level, step, message and fields.

    REV is a run commit, an experiment name (its latest run) or a run id; default:
    HEAD's run, else the newest run.

    Example: gitlog logs baseline --level warning --grep nan
    """
    from gitlog.events import fields_text, stream

    result = stream(rev, level=level, grep=grep, repo=repo)
    columns = ["time", "level", "step", "message", "fields"]
    if fmt in ("json", "csv"):  # the fields as a mapping; written event by event as the
        # events are read, so a run of a million events is never held as events or rows
        def rows() -> Iterator[dict[str, Any]]:
            for e in result:
                row = {"time": e.ts, "level": e.level, "step": e.step, "message": e.message,
                       # JSON: a mapping always ({} for none, as events.jsonl holds it)
                       "fields": e.fields or ({} if fmt == "json" else None)}
                if fmt == "csv":  # lists read as in the table: "a, b"
                    row = {c: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
                           for c, v in row.items()}
                yield row

        echo_chunks((iter_json if fmt == "json" else iter_csv)(rows(), columns))
        _warn_skipped(result.skipped, result.commit)
        return
    # the cells as text, measured then written by iter_text_table: a table of a million
    # events holds its text once, not the events, rows and padded columns too
    numeric = [2]  # the step column, right-aligned while every step is a number
    table = []
    for e in result:
        if numeric and e.step is not None and not is_number(e.step):
            numeric.clear()
        table.append((cell_text(e.ts), visible(e.level), cell_text(e.step),
                      visible(e.message), visible(fields_text(e.fields))))
    _warn_skipped(result.skipped, result.commit)
    if not table:
        note(f"no events in run {result.commit[:10]}" +
             (" match" if level or grep else " (it logged none)"))
        return
    # a huge message or fields cell (a tensor's repr, a long traceback) is written whole
    # but pads no other row: the padding of 100,000 rows to one 10 MB message was 1 TB
    pieces = iter_text_table(lambda: table, columns, numeric, fmt,
                             widest={3: CELL_WIDTH, 4: CELL_WIDTH})
    echo_chunks(chain([next(pieces)], ("\n" + text for text in pieces)))


def _warn_skipped(skipped: int, commit: str) -> None:
    if skipped:
        warn(f"{skipped} line(s) of events.jsonl in {commit[:10]} are not valid JSON; skipped")

"""``gitlog logs``."""

from __future__ import annotations

import click

from ._group import pass_repo
from ._output import format_option
from ._table import emit, format_rows, note, warn


@click.command()
@click.argument("rev", required=False)
@click.option("--level", type=click.Choice(["debug", "info", "warning", "error", "critical"],
                                          case_sensitive=False),
              help="Only events at this level or above.")
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
    from gitlog.events import fields_text
    from gitlog.events import logs as run_logs

    result = run_logs(rev, level=level, grep=grep, repo=repo)
    if result.skipped:
        warn(f"{result.skipped} line(s) of events.jsonl in {result.commit[:10]} are not "
             "valid JSON; skipped")
    shown = fmt in ("json", "csv")  # data formats keep the fields as a mapping
    rows = [{"time": e.ts, "level": e.level, "step": e.step, "message": e.message,
             "fields": (e.fields if shown else fields_text(e.fields)) or None}
            for e in result.events]
    if not rows and fmt not in ("json", "csv"):
        note(f"no events in run {result.commit[:10]}" +
             (" match" if level or grep else " (it logged none)"))
        return
    emit(format_rows(rows, ["time", "level", "step", "message", "fields"], fmt))

"""``gitlog recover``."""

from __future__ import annotations

import click

from ._group import pass_repo
from ._output import echo, echo_err, format_option, render

COLUMNS = ("run", "experiment", "action", "status", "commit", "detail")


@click.command()
@pass_repo
@click.option("-n", "--dry-run", is_flag=True, help="Only say what would be committed.")
@format_option("table", "json", "csv")
def recover(repo: str, dry_run: bool, fmt: str) -> None:
    """Commit runs whose process died (killed, crashed, power loss).

    Each dead run's journal in .git/gitlog/runs/ is committed to its experiment branch
    with everything it flushed, status 'killed' unless it recorded another. Live runs are
    left alone.

    Example: gitlog recover
    """
    from gitlog.recover import recover as do_recover

    results = do_recover(repo, dry_run=dry_run)
    if not results:
        click.echo("gitlog: nothing to recover", err=True)
        if fmt == "table":
            return  # JSON and CSV still write their data: [] and the header
    rows = [{"run": r.run, "experiment": r.experiment, "action": r.action,
             "status": r.status, "commit": r.commit, "detail": r.detail} for r in results]
    echo(render(rows, fmt, COLUMNS))
    failed = [r for r in results if r.action == "failed"]
    for r in failed:
        of = f" of {r.experiment}" if r.experiment else ""
        echo_err(f"Error: run {r.run}{of} not recovered: {r.detail}")
        if r.hint:
            echo_err(f"hint: {r.hint}")
    if failed:
        raise click.exceptions.Exit(1)

"""``gitlog history``: the click command (its options and help). What it prints is
``historyview``'s; the CLI's fast path reads the same options without click
(``_fastpath``, which a test keeps in step with these)."""

from __future__ import annotations

from typing import Any

import click

from ._group import pass_repo
from ._output import format_option
from .historyview import show_history


def metric_option(func: Any) -> Any:
    return click.option("-m", "--metric", "metrics", multiple=True, metavar="NAME",
                        help="Metric to follow (repeatable, or comma-separated); default: "
                             "metrics.key from .gitlog.yaml.")(func)


@click.command()
@click.argument("revs", nargs=-1)
@metric_option
@click.option("--all", "all_", is_flag=True,
              help="Every experiment branch and the main branch.")
@click.option("--step", metavar="last|min|max|STEP",
              help="Take this point of each run's step series instead of the summary value.")
@click.option("--since", metavar="DATE", help="Only runs committed after DATE.")
@click.option("--until", metavar="DATE", help="Only runs committed before DATE.")
@click.option("-n", "--max-count", "count", type=click.IntRange(min=1), metavar="N",
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
    lower; counters and settings such as step and lr: no verdict), and the code files
    changed since that run.

    REVS are commits, branches, ranges (main..exp/x) or experiment names; default: the
    current branch, or every experiment when it holds no runs.

    Example: gitlog history --metric loss --all
    """
    show_history(revs, metrics, all_, step, since, until, count, first_parent, regressions,
                 fmt, repo)

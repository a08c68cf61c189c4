"""``gitlog bisect``."""

from __future__ import annotations

import click

from ._group import command_words, pass_repo
from ._output import format_option, to_json
from ._table import emit, format_rows


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("-m", "--metric", required=True, metavar="NAME", help="Metric to judge by.")
@click.option("--threshold", required=True, type=float, metavar="X",
              help="Bad when the metric is on the worse side of X.")
@click.option("--good", required=True, metavar="REV", help="A code version that is good.")
@click.option("--bad", required=True, metavar="REV", help="A later code version that is bad.")
@click.option("-e", "--experiment", default="bisect", show_default=True,
              help="Experiment that new runs go to.")
@format_option()
@pass_repo
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def bisect(metric: str, threshold: float, good: str, bad: str, experiment: str, fmt: str,
           repo: str, command: tuple[str, ...]) -> None:
    """Find the first code version whose metric crosses a threshold.

    Drives 'git bisect run' in a temporary worktree (your checkout is untouched). At
    each step a run already logged for that exact code tree is reused; otherwise COMMAND
    runs there as a new logged run. Bad means worse than X (metrics.better decides which
    side is worse); a failed run or a missing metric skips the step.

    Example: gitlog bisect --metric loss --threshold 0.3 --good v1 --bad main -- python train.py
    """
    from gitlog.bisection import bisect as run_bisect

    result = run_bisect(metric, threshold, good, bad, command_words(command),
                        experiment=experiment,
                        repo=repo, output=lambda line: click.echo(line, err=True))
    steps = [{"commit": s.commit[:10], "verdict": s.verdict, metric: s.value,
              "run": (s.run_commit or "")[:10] or None, "source": s.note}
             for s in result.steps]
    if fmt == "json":
        emit(to_json({"first_bad": result.first_bad, "subject": result.subject,
                      "author": result.author, "value": result.value,
                      "candidates": result.candidates, "steps": steps}))
        return
    if fmt == "csv":  # the answer as rows after the steps: CSV has no room for a line
        if result.first_bad:
            answer = [{"commit": result.first_bad[:10], "verdict": "first bad",
                       metric: result.value, "run": None,
                       "source": f"{result.subject} — {result.author}"}]
        else:
            answer = [{"commit": c[:10], "verdict": "candidate", metric: None, "run": None,
                       "source": None} for c in result.candidates]
        emit(format_rows(steps + answer, ["commit", "verdict", metric, "run", "source"],
                         "csv"))
        return
    emit(format_rows(steps, ["commit", "verdict", metric, "run", "source"], fmt,
                     {metric: "number"}))
    if result.first_bad:
        shown = "" if result.value is None else f" ({metric}={result.value:.6g})"
        emit(f"\nfirst bad: {result.first_bad[:10]} {result.subject} — {result.author}{shown}")
    else:
        emit("\nonly skipped versions are left; the first bad one is among: " +
             ", ".join(c[:10] for c in result.candidates))

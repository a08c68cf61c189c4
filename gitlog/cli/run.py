"""``gitlog run``."""

from __future__ import annotations

import click

from ._group import command_words, pass_repo
from ._output import echo_err


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("-e", "--experiment", help="Experiment name (branch exp/NAME).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A hyperparameter to record (repeatable); dots nest: opt.lr=0.1.")
@click.option("-m", "--message", help="Subject of the run commit.")
@click.option("--system-metrics", is_flag=True,
              help="Sample CPU, memory, disk (and GPU) into system/* series.")
@pass_repo
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(experiment: str | None, params: tuple[str, ...], message: str | None,
        system_metrics: bool, repo: str, command: tuple[str, ...]) -> None:
    """Run COMMAND as a logged run and commit it to exp/NAME.

    gitlog.start() inside COMMAND attaches to this run. Output passes through and is kept
    as events; exit code, duration, peak memory and CPU time are recorded. gitlog exits
    with COMMAND's exit code, or 1 when COMMAND succeeded but its run could not be
    committed (its journal is kept for gitlog recover).

    Example: gitlog run -e baseline -p lr=0.1 -- python train.py
    """
    from gitlog.procrun import parse_param, run_command
    from gitlog.values import deep_merge, param_update

    merged: dict = {}
    for text in params:
        key, value = parse_param(text)
        deep_merge(merged, param_update(key, value))
    # -C PATH: as if gitlog was started in PATH, so COMMAND runs there too
    result = run_command(command_words(command), repo=repo, experiment=experiment, params=merged,
                         message=message, system_metrics=system_metrics, cwd=repo,
                         report_unstored=True)
    run = result.run
    where = run.commit[:10] if run.commit else (
        str(run.path) if run.path else "not committed")
    click.echo(f"gitlog: run {run.id} of {run.experiment}: {result.status} -> {where}",
               err=True)
    error = result.unstored_error()
    if error is not None:
        echo_err(f"Error: {error.message}")
        echo_err(f"hint: {error.hint}")
    raise click.exceptions.Exit(result.exit_code)

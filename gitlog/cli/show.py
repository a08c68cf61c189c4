"""``gitlog ls`` and ``gitlog show``."""

from __future__ import annotations

import click

from ._group import pass_repo
from ._output import echo, echo_err, format_option, render, to_json

LS_COLUMNS = ["experiment", "branch", "runs", "last_run", "status"]
VALUE_WIDTH = 60  # show's table cuts longer values with '…' (JSON and CSV hold them whole)


@click.command()
@pass_repo
@format_option("table", "json", "csv")
def ls(repo: str, fmt: str) -> None:
    """List experiments: branch, runs, last run, its status and key metrics.

    Key metrics come from metrics.key in .gitlog.yaml.

    Example: gitlog ls --format json
    """
    from gitlog.config import load
    from gitlog.git import Repo
    from gitlog.query import list_experiments

    from ._table import refuse_column_clash

    r = Repo(repo)
    config = load(r.root)
    keys = list(config["metrics"]["key"])
    for key in keys:  # a key metric 'status' wrote over the run's status
        refuse_column_clash(key, LS_COLUMNS, then=f"put my_{key} in metrics.key")
    rows = list_experiments(r, config)
    table = [{"experiment": x.experiment, "branch": x.branch, "runs": x.runs,
              "last_run": x.last_run, "status": x.status, **x.metrics} for x in rows]
    if not rows and fmt == "table":
        from gitlog.branches import deploy_branches

        deployed = deploy_branches(r, config)
        click.echo("no experiments yet: gitlog run -e NAME -- python train.py", err=True)
        if deployed:
            click.echo(f"deployment windows: {', '.join(deployed)} (gitlog history --metric "
                       f"requests {deployed[0]})", err=True)
        return
    echo(render(table, fmt, [*LS_COLUMNS, *keys]))


@click.command()
@click.argument("rev", required=False)
@pass_repo
@format_option("table", "json", "csv")
def show(rev: str | None, repo: str, fmt: str) -> None:
    """Show one run: status, code commit, params, metrics, data and model.

    REV is a commit, an experiment name (its latest run) or a run id; default: HEAD's
    run, else the newest run of any experiment.

    Example: gitlog show baseline
    """
    from gitlog import query

    view = query.show(rev, repo)
    for text in view.record.warnings:
        echo_err(f"warning: {text}")
    sections = query.run_sections(view)
    if fmt == "json":
        rec = view.record
        echo(to_json({"run": sections["run"], "params": rec.params, "metrics": rec.metrics,
                      "data": rec.data, "model": rec.model}))
        return
    rows = [{"section": s, "key": k, "value": v}
            for s, values in sections.items() for k, v in values.items()]
    if fmt == "csv":
        echo(render(rows, "csv", ["section", "key", "value"]))
        return
    from gitlog.display import visible

    from ._output import cell
    from ._table import shorten

    blocks = []
    for name, values in sections.items():
        if not values:
            continue
        body = render([{"key": k, "value": shorten(visible(cell(v)), VALUE_WIDTH)}
                       for k, v in values.items()], "table")
        blocks.append(f"== {name} ==\n" + "\n".join(body.splitlines()[2:]))
    echo("\n\n".join(blocks))

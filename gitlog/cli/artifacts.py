"""``gitlog artifacts`` and ``gitlog get``."""

from __future__ import annotations

import sys

import click

from ._group import pass_repo
from ._output import echo, format_option, render


@click.command()
@click.argument("rev", required=False)
@pass_repo
@format_option("table", "json", "csv")
def artifacts(rev: str | None, repo: str, fmt: str) -> None:
    """List a run's artifacts: name, type, path, size, DVC md5, and whether the content
    is in the local DVC cache.

    REV is a commit, an experiment name (its latest run) or a run id; default: HEAD's
    run, else the newest run of any experiment.

    Example: gitlog artifacts baseline
    """
    from gitlog.retrieve import list_artifacts

    commit, run_id, rows = list_artifacts(rev, repo)
    if not rows and fmt == "table":
        click.echo(f"gitlog: run {run_id} ({commit[:10]}) has no artifacts", err=True)
        return
    columns = ["name", "type", "path", "size", "nfiles", "md5", "cached"]
    if fmt == "json":
        columns.append("meta")
    echo(render(rows, fmt, columns))


@click.command()
@click.argument("rev")
@click.argument("name")
@click.option("-o", "--out", "output", type=click.Path(), default=None,
              help="Where to write it (default: its file name in the current folder; "
                   "an existing folder, or a path ending in /, receives it inside).")
@click.option("-f", "--force", is_flag=True, help="Replace what is already at the path.")
@click.option("--dvc-remote", metavar="NAME", default=None,
              help="DVC remote to fetch from when the content is not in the local cache "
                   "(default: remote.dvc in .gitlog.yaml, else DVC's default remote).")
@pass_repo
def get(rev: str, name: str, output: str | None, force: bool, dvc_remote: str | None,
        repo: str) -> None:
    """Write artifact NAME of run REV to a path, without checking the run out.

    The content comes from the local DVC cache, else from the DVC remote. Prints the
    path written.

    Example: gitlog get baseline model.pkl -o models/baseline.pkl
    """
    from gitlog.config import load
    from gitlog.git import Repo
    from gitlog.retrieve import get_artifact

    r = Repo(repo)
    config = load(r.root)
    path = get_artifact(rev, name, output, r, config, force=force,
                        remote=dvc_remote or config["remote"]["dvc"],
                        progress=sys.stderr.isatty())
    click.echo(str(path))

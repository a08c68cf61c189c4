"""``gitlog push`` and ``gitlog pull``."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._group import pass_repo
from ._output import echo, format_option, render

_COLUMNS = ["experiment", "action", "runs", "artifacts", "detail"]


def _options(func: Any) -> Any:
    func = click.option("--dvc-remote", metavar="NAME", default=None,
                        help="DVC remote for artifacts (default: remote.dvc in .gitlog.yaml, "
                             "else DVC's default remote).")(func)
    func = click.option("--remote", metavar="NAME", default=None,
                        help="Git remote (default: remote.git in .gitlog.yaml, 'origin').")(func)
    func = click.option("--all", "all_", is_flag=True, help="Every experiment.")(func)
    return click.argument("experiments", nargs=-1)(func)


def _finish(report: Any, fmt: str, verb: str) -> None:
    from gitlog.errors import GitlogError

    rows = [{"experiment": r.experiment, "action": r.action, "runs": r.runs,
             "artifacts": r.artifacts, "detail": r.detail} for r in report.results]
    if report.note and not rows:
        click.echo(f"gitlog: {report.note}", err=True)
    if rows or fmt != "table":  # json and csv stay parseable: [] and the header
        echo(render(rows, fmt, _COLUMNS))
    failed = report.failed
    if failed:
        names = ", ".join(r.experiment for r in failed)
        raise GitlogError(f"{len(failed)} of {len(rows)} experiments not {verb} ({names}): "
                          f"{failed[0].detail}", hint=report.hint)


@click.command()
@_options
@pass_repo
@format_option("table", "json", "csv")
def push(experiments: tuple[str, ...], all_: bool, remote: str | None,
         dvc_remote: str | None, repo: str, fmt: str) -> None:
    """Push experiment branches over git and their runs' artifacts to the DVC remote.

    With no EXPERIMENTS, the experiment checked out. A branch moves on the git remote
    only once all its artifacts are on the DVC remote; what was not pushed is named, and
    running the same command again completes it.

    Example: gitlog push baseline high-lr --remote origin
    """
    from gitlog.config import load
    from gitlog.git import Repo
    from gitlog.transfer import push as do_push

    r = Repo(repo)
    report = do_push(r, load(r.root), experiments, all_, remote, dvc_remote,
                     progress=sys.stderr.isatty())
    _finish(report, fmt, "pushed")


@click.command()
@_options
@click.option("--no-artifacts", is_flag=True,
              help="Take the runs without fetching their artifacts (gitlog get fetches "
                   "one when needed).")
@pass_repo
@format_option("table", "json", "csv")
def pull(experiments: tuple[str, ...], all_: bool, remote: str | None,
         dvc_remote: str | None, no_artifacts: bool, repo: str, fmt: str) -> None:
    """Fetch experiment branches over git and their new runs' artifacts from DVC.

    With no EXPERIMENTS, the experiment checked out. A local branch moves (fast-forward
    only) once the artifacts of its new runs are in the local DVC cache; a branch that
    both sides added runs to is reported as diverged and left as it is.

    Example: gitlog pull --all
    """
    from gitlog.config import load
    from gitlog.git import Repo
    from gitlog.transfer import pull as do_pull

    r = Repo(repo)
    report = do_pull(r, load(r.root), experiments, all_, remote, dvc_remote,
                     artifacts=not no_artifacts, progress=sys.stderr.isatty())
    _finish(report, fmt, "pulled")

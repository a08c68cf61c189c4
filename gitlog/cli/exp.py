"""``gitlog exp new / list / rm / promote``."""

from __future__ import annotations

import sys

import click

from ._group import pass_repo
from ._output import echo, format_option, render

LIST_COLUMNS = ["name", "branch", "current", "promoted", "runs", "last_run", "status"]


@click.group()
def exp() -> None:
    """Experiment branches: one branch exp/NAME per experiment, one commit per run.

    Example: gitlog exp new lr-sweep --checkout
    """


@exp.command()
@click.argument("name")
@click.option("--from", "start", metavar="REV",
              help="Start from this commit, branch, experiment or run id "
                   "(default: HEAD).")
@click.option("--checkout", is_flag=True, help="Check the new branch out.")
@pass_repo
def new(name: str, start: str | None, checkout: bool, repo: str) -> None:
    """Create experiment NAME: the branch exp/NAME.

    With --checkout, runs logged here write their logs into the working tree, to be
    committed with the code (the hooks check that they match).

    Example: gitlog exp new lr-sweep --from main --checkout
    """
    from gitlog.experiments import new as create

    made = create(repo, name, start, checkout=checkout)
    click.echo(f"gitlog: created {made.branch} at {str(made.commit)[:10]}"
               + (" and checked it out" if checkout else ""), err=True)


@exp.command(name="list")
@pass_repo
@format_option("table", "json", "csv")
def list_(repo: str, fmt: str) -> None:
    """List experiments: branch, current, promoted, runs, last run, status, key metrics.

    Example: gitlog exp list --format csv
    """
    from gitlog.experiments import list_experiments

    from ._table import refuse_column_clash

    found = list_experiments(repo)
    if not found and fmt == "table":
        click.echo("no experiments yet: gitlog exp new NAME", err=True)
        return
    keys = list(found[0].metrics) if found else []
    for key in keys:  # a key metric 'status' wrote over the run's status, as in ls
        refuse_column_clash(key, LIST_COLUMNS, then=f"put my_{key} in metrics.key")
    rows = [{**e.row(), **e.metrics} for e in found]
    echo(render(rows, fmt, [*LIST_COLUMNS, *keys]))


@exp.command()
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_repo
def rm(name: str, yes: bool, repo: str) -> None:
    """Delete experiment NAME's branch (runs on no other branch or remote are then kept
    only by the commit id it prints).

    Asks first on a terminal; elsewhere --yes is required.

    Example: gitlog exp rm old-idea --yes
    """
    from gitlog.errors import GitlogError
    from gitlog.experiments import remote_copies, removable, remove

    found = removable(repo, name)
    if not yes:
        if not sys.stdin.isatty():
            raise GitlogError(f"not deleting {found.branch} without confirmation",
                              hint=f"pass --yes: gitlog exp rm {found.name} --yes")
        if not click.confirm(f"Delete {found.branch} ({found.runs} run(s), {found.only_here} "
                             f"on no other branch or remote; tip {str(found.commit)[:10]})?",
                             err=True):  # a 'no' is an answer, not an interruption
            click.echo(f"gitlog: kept {found.branch}", err=True)
            raise click.exceptions.Exit(1)
    gone = remove(repo, name)
    lost = f"; {found.only_here} of its runs {'is' if found.only_here == 1 else 'are'} on " \
        "no other branch or remote" if found.only_here else ""
    click.echo(f"gitlog: deleted {gone.branch} (was {gone.commit}{lost}); restore with: "
               f"git branch {gone.branch} {gone.commit}", err=True)
    for remote in remote_copies(repo, str(gone.branch)):
        click.echo(f"gitlog: {remote}/{gone.branch} still has it ('gitlog ls' lists it from "
                   f"there); delete it there with: git push {remote} --delete {gone.branch}",
                   err=True)


@exp.command()
@click.argument("name")
@click.option("--into", metavar="BRANCH", help="Branch to merge into (default: main_branch "
              "from .gitlog.yaml, usually main).")
@click.option("-m", "--message", help="Subject of the merge commit.")
@pass_repo
def promote(name: str, into: str | None, message: str | None, repo: str) -> None:
    """Merge experiment NAME's code and logs into the main branch.

    The merge commit's message carries the run's metric summary (with the change from
    the target branch's run) and Gitlog-Run / Gitlog-Experiment trailers. Uncommitted
    work is never lost: a conflict, or local changes in the way, changes nothing.

    Example: gitlog exp promote lr-sweep --into main
    """
    from gitlog.promote import promote as do_promote

    done = do_promote(repo, name, into, message)
    click.echo(f"gitlog: promoted {done.branch} into {done.target} as "
               f"{str(done.commit)[:10]}" + (f": {done.summary}" if done.summary else ""),
               err=True)

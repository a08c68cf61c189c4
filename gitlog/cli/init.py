"""``gitlog init``."""

from __future__ import annotations

import click

from . import pass_repo


@click.command()
@pass_repo
@click.option("--no-dvc", is_flag=True, help="Do not run 'dvc init'.")
def init(repo: str, no_dvc: bool) -> None:
    """Set up gitlog in this repository; running it again changes nothing.

    Writes a commented .gitlog.yaml, runs 'dvc init' when the repository has no DVC,
    and adds the dvc.yaml entries that let 'dvc metrics show', 'dvc params diff' and
    'dvc plots show' read gitlog's runs.

    Example: gitlog init
    """
    from gitlog.project import init_project

    result = init_project(repo, dvc=not no_dvc)
    done = []
    if result.config_written:
        done.append("wrote .gitlog.yaml")
    if result.dvc_initialized:
        done.append("ran dvc init")
    if result.dvc_yaml_updated:
        done.append("added gitlog's entries to dvc.yaml")
    click.echo(f"gitlog: {', '.join(done)} in {result.root}" if done
               else f"gitlog: already set up in {result.root}", err=True)

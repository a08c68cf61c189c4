"""``gitlog init``."""

from __future__ import annotations

import click

from ._group import pass_repo


@click.command()
@pass_repo
@click.option("--no-dvc", is_flag=True, help="Do not run 'dvc init'.")
@click.option("--hooks", "with_hooks", is_flag=True,
              help="Also install gitlog's git hooks (see 'gitlog hooks install').")
def init(repo: str, no_dvc: bool, with_hooks: bool) -> None:
    """Set up gitlog in this repository; running it again changes nothing.

    Writes a commented .gitlog.yaml, runs 'dvc init' when the repository has no DVC,
    and adds the dvc.yaml entries that let 'dvc metrics show', 'dvc params diff' and
    'dvc plots show' read gitlog's runs.

    Example: gitlog init --hooks
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
    if with_hooks:  # (a refusal, core.hooksPath elsewhere, comes after what was set up)
        from gitlog.hooks import install

        report = install(repo)
        changed = [h.hook for h in report.hooks if h.state != "up to date"]
        click.echo(f"gitlog: installed hooks ({', '.join(changed)}) in {report.folder}"
                   if changed else f"gitlog: hooks up to date in {report.folder}", err=True)
    if result.uncommitted:
        import shlex

        files = " ".join(shlex.quote(name) for name in result.uncommitted)
        click.echo(f"gitlog: commit the setup before the first run: git add {files} && "
                   "git commit -m 'Set up gitlog'", err=True)

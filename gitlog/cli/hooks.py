"""``gitlog hooks install / uninstall / status / run``."""

from __future__ import annotations

import os
import sys

import click

from ._group import pass_repo
from ._output import echo, format_option, render

HOOK_HELP = "pre-commit, commit-msg, post-commit, pre-push, post-checkout or post-merge"


@click.group()
def hooks() -> None:
    """Git hooks that make every code commit on an experiment branch carry its run.

    What each hook checks is set in the hooks: section of .gitlog.yaml.

    Example: gitlog hooks install
    """


def _report(report: object, fmt: str = "table") -> None:
    rows = [h.row() for h in report.hooks]  # type: ignore[attr-defined]
    where = str(report.folder)  # type: ignore[attr-defined]
    if report.hooks_path:  # type: ignore[attr-defined]
        where += f" (core.hooksPath = {report.hooks_path})"  # type: ignore[attr-defined]
    if fmt == "table":
        click.echo(f"hooks folder: {where}", err=True)
    echo(render(rows, fmt, ["hook", "state", "chained", "python"]))
    for note in report.notes:  # type: ignore[attr-defined]
        click.echo(f"gitlog: {note}", err=True)


@hooks.command()
@pass_repo
@click.option("--hook", "names", multiple=True, metavar="NAME",
              help=f"Install only this hook (repeatable): {HOOK_HELP}.")
@click.option("--force", is_flag=True,
              help="Rewrite gitlog's shims even when current, and install into a "
                   "core.hooksPath outside the repository.")
def install(repo: str, names: tuple[str, ...], force: bool) -> None:
    """Install gitlog's git hooks (all six unless --hook is given).

    Honours core.hooksPath. A hook already in place that is not gitlog's is kept as
    NAME.legacy and runs first; it is never overwritten. The shims record this
    Python, so they work when its virtual environment is not active.

    Example: gitlog hooks install --hook pre-commit --hook commit-msg
    """
    from gitlog.hooks import install as do_install

    _report(do_install(repo, list(names), force=force))


@hooks.command()
@pass_repo
@click.option("--hook", "names", multiple=True, metavar="NAME",
              help=f"Remove only this hook (repeatable): {HOOK_HELP}.")
def uninstall(repo: str, names: tuple[str, ...]) -> None:
    """Remove gitlog's hooks and restore the hooks they chained.

    Hooks that are not gitlog's are left alone.

    Example: gitlog hooks uninstall
    """
    from gitlog.hooks import uninstall as do_uninstall

    _report(do_uninstall(repo, list(names)))


@hooks.command()
@pass_repo
@format_option("table", "json", "csv")
def status(repo: str, fmt: str) -> None:
    """Show each hook: gitlog's (with its Python), another tool's, or none.

    Example: gitlog hooks status --format json
    """
    from gitlog.hooks import status as do_status

    _report(do_status(repo), fmt)


@hooks.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(name: str, args: tuple[str, ...]) -> None:
    """Run one hook's policy here, as git would (for the pre-commit framework).

    NAME is a hook name; ARGS are git's arguments for it. pre-push reads git's ref
    lines on stdin, or the pre-commit framework's PRE_COMMIT_* variables.

    Example: gitlog hooks run pre-commit
    """
    from gitlog._hook import run_hook
    from gitlog.hooks import resolve_names

    if name in ("-C", "--repo") or name.startswith(("-C", "--repo=")):
        # (gitlog -C PATH hooks run NAME puts -C here, where it read as the hook's name)
        raise click.UsageError("hooks run takes no -C: it acts on the repository it runs "
                               "in, as git runs hooks; run it there: cd PATH && gitlog "
                               "hooks run NAME")
    resolve_names([name])  # an unknown name is an error here, not a silent no-op
    stdin = None
    argv = list(args)
    if name == "pre-push":
        stdin = b"" if sys.stdin.isatty() else sys.stdin.buffer.read()
        to_ref = os.environ.get("PRE_COMMIT_TO_REF")
        if not stdin.strip() and to_ref:
            from_ref = os.environ.get("PRE_COMMIT_FROM_REF") or "0" * 40
            stdin = f"HEAD {to_ref} HEAD {from_ref}\n".encode()
            argv = argv or [os.environ.get("PRE_COMMIT_REMOTE_NAME", "origin")]
    elif name == "post-checkout" and not argv and os.environ.get("PRE_COMMIT_TO_REF"):
        argv = [os.environ.get("PRE_COMMIT_FROM_REF", ""), os.environ["PRE_COMMIT_TO_REF"],
                os.environ.get("PRE_COMMIT_CHECKOUT_TYPE", "1")]
    raise click.exceptions.Exit(run_hook(name, argv, stdin=stdin))

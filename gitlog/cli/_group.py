"""The click side of ``gitlog``: the command group, whose subcommands load on first use
(``COMMANDS``), and the options every command shares. ``gitlog.cli.main`` imports it for
every command line but the fast path's."""

from __future__ import annotations

from typing import Any

import click

from . import COMMANDS


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        import importlib

        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-") and \
                not ctx.resilient_parsing:  # (click's own suggests from loaded commands)
            from difflib import get_close_matches

            close = get_close_matches(name, list(COMMANDS), n=1)
            raise click.UsageError(f"No such command {name!r}."
                                   + (f" Did you mean {close[0]!r}?" if close else ""), ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gitlog", message="gitlog %(version)s")
@click.option("--debug", is_flag=True, help="Show the full traceback of unexpected errors.")
def cli(debug: bool) -> None:
    """gitlog: keep ML logs (params, metrics, events, artifacts) in your git repository.

    Each experiment is a branch exp/NAME; each run is a commit holding the code as it
    ran plus its logs. -C PATH, before or after the command, runs it in the repository
    at PATH, as git -C does.

    Example: gitlog run -e baseline -p lr=0.1 -- python train.py
    """


def pass_repo(func: Any) -> Any:
    """Add ``-C/--repo PATH`` to a command. PATH is checked where it is used (``Repo``):
    a file is 'not a folder' there, one line and exit 1 as a missing folder, where
    click's ``Path(file_okay=False)`` made it a usage error (exit 2)."""
    return click.option("-C", "--repo", "repo", default=".", show_default=True,
                        metavar="PATH", help="Run as if gitlog was started in PATH.")(func)


def command_words(command: tuple[str, ...]) -> list[str]:
    """COMMAND after a command's own options: with ``ignore_unknown_options`` a mistyped
    or unknown option (``--step min``) would land in it and run as the program, or be
    dropped unseen when nothing runs, so a first word that is an option is a usage error
    (no program's name starts with ``-``)."""
    if command and command[0].startswith("-") and command[0] != "-":
        from difflib import get_close_matches

        ctx = click.get_current_context()
        name = command[0].split("=", 1)[0]
        known = [o for p in ctx.command.params for o in getattr(p, "opts", [])]
        raise click.NoSuchOption(name, possibilities=get_close_matches(name, known, 1, 0.8),
                                 ctx=ctx)
    return list(command)

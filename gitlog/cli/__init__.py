"""The ``gitlog`` command: a click group whose subcommands load on first use.

Only click is imported at start-up; each command's module (and whatever heavy library it
needs) is imported when that command runs. Errors print as ``Error: ...`` plus a
``hint:`` line; exit codes: 0 ok, 1 expected failure, 2 usage, 3 bug, 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Any

import click

# name -> (module, attribute, one-line help shown by `gitlog --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("gitlog.cli.init", "init", "Set up gitlog (config, DVC) in this repository."),
    "run": ("gitlog.cli.run", "run", "Run a command as a logged run."),
    "ls": ("gitlog.cli.show", "ls", "List experiments with their latest run."),
    "show": ("gitlog.cli.show", "show", "Show one run: params, metrics, data, model."),
    "recover": ("gitlog.cli.recover", "recover", "Commit runs whose process died."),
    "demo": ("gitlog.cli.demo", "demo", "Build a demo ML repository with real runs."),
    "alerts": ("gitlog.cli.alerts", "alerts", "Test alert notifiers; check a run's alerts."),
    "artifacts": ("gitlog.cli.artifacts", "artifacts", "List a run's artifacts (DVC)."),
    "get": ("gitlog.cli.artifacts", "get", "Write an artifact of any run to a path."),
    "push": ("gitlog.cli.transfer", "push", "Push experiments (git) and artifacts (DVC)."),
    "pull": ("gitlog.cli.transfer", "pull", "Pull experiments (git) and artifacts (DVC)."),
    "reproduce": ("gitlog.cli.reproduce", "reproduce", "Re-run a run and compare metrics."),
    "history": ("gitlog.cli.history", "history", "How metrics moved across code versions."),
    "compare": ("gitlog.cli.compare", "compare", "Compare runs: params, metrics, data, code."),
    "diff": ("gitlog.cli.compare", "compare", "Alias of compare."),
    "best": ("gitlog.cli.best", "best", "The best runs across experiments by a metric."),
    "blame": ("gitlog.cli.best", "blame", "The code changes that moved a metric most."),
    "logs": ("gitlog.cli.logs", "logs", "A run's events, filtered by level and text."),
    "bisect": ("gitlog.cli.bisect", "bisect", "Find the code change where a metric went bad."),
    "index": ("gitlog.cli.index", "index", "Fill or rebuild the query cache."),
    "hooks": ("gitlog.cli.hooks", "hooks", "Install, remove or inspect gitlog's git hooks."),
    "exp": ("gitlog.cli.exp", "exp", "Create, list, delete and promote experiment branches."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        import importlib

        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

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
    ran plus its logs.

    Example: gitlog run -e baseline -p lr=0.1 -- python train.py
    """


def main(argv: list[str] | None = None) -> None:
    from gitlog.errors import GitlogError

    args = sys.argv[1:] if argv is None else argv
    try:
        rv = cli.main(args=args, prog_name="gitlog", standalone_mode=False)
    except GitlogError as exc:
        click.echo(f"Error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        if "--debug" in args:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (re-run with --debug "
                   "for the traceback, and please report it)", err=True)
        sys.exit(3)
    sys.exit(rv if isinstance(rv, int) else 0)


def pass_repo(func: Any) -> Any:
    """Add ``-C/--repo PATH`` to a command."""
    return click.option("-C", "--repo", "repo", default=".", show_default=True,
                        type=click.Path(file_okay=False),
                        help="Run as if gitlog was started in PATH.")(func)

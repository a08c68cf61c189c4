"""The ``gitlog`` command: a click group whose subcommands load on first use.

``main`` imports click (~30 ms) only when it needs it: ``gitlog history``, the query run
most, has its arguments read by ``_fastpath`` when they are plain ones, and shows its rows
with no click loaded; any other command line (help, a typo, another command) goes to the
click group in ``_group``, with the same output. Each command's module (and whatever
heavy library it needs) is imported when that command runs. Errors print as
``Error: ...`` plus a ``hint:`` line; exit codes: 0 ok, 1 expected failure, 2 usage,
3 bug, 130 interrupted.
"""

from __future__ import annotations

import sys

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


def main(argv: list[str] | None = None) -> None:
    from gitlog.errors import GitlogError

    from ._output import echo_err

    args = sys.argv[1:] if argv is None else argv
    if sys.stdout is None or sys.stderr is None or sys.stdin is None:
        _hold_closed_streams()
    from gitlog import warnformat

    warnformat.install()  # gitlog's own warnings as 'warning: TEXT', as the CLI's others
    try:
        code = _run(args)
    except GitlogError as exc:
        echo_err(f"Error: {exc}")
        if exc.hint:
            echo_err(f"hint: {exc.hint}")
        code = 1
    except KeyboardInterrupt:
        echo_err("Interrupted.")
        code = 130
    except BrokenPipeError:
        _drop_stdout()
        code = 1
    except UnicodeEncodeError as exc:
        if "--debug" in args or not _stdout_cannot_write(exc):
            raise
        _drop_stdout()
        text = exc.object[exc.start:exc.end]
        echo_err(f"Error: stdout's encoding, {exc.encoding}, cannot write {text!a}")
        echo_err("hint: use a UTF-8 locale (LANG=C.UTF-8) or set PYTHONIOENCODING=utf-8")
        code = 1
    except Exception as exc:
        if "--debug" in args:
            raise
        import shlex  # --debug is gitlog's own option, before the command: spell it out

        echo_err(f"Error: unexpected {type(exc).__name__}: {exc} (re-run as gitlog --debug "
                 f"{shlex.join(args)} for the traceback, and please report it)")
        code = 3
    sys.exit(code)


# the commands that are groups of subcommands (gitlog exp new): -C goes after the second
GROUPS = frozenset({"alerts", "exp", "hooks"})


def repo_first(args: list[str]) -> list[str]:
    """git's order, ``gitlog -C PATH CMD ...``, as the command takes it:
    ``gitlog CMD -C PATH ...`` (``-C`` belongs to each command). gitlog's own options
    may come before or after it (``gitlog --debug -C PATH ls``); with no command
    (``gitlog -C PATH --help``, ``gitlog -C PATH exp``) there is nothing for ``-C`` to
    act on, and it is dropped."""
    lead = 0
    while lead < len(args) and args[lead] == "--debug":
        lead += 1
    before, args = args[:lead], args[lead:]
    if args[:1] in (["-C"], ["--repo"]) and len(args) > 1:
        option, rest = args[:2], args[2:]
    elif args and args[0].startswith(("--repo=", "-C")) and args[0] not in ("-C", "--repo"):
        option, rest = args[:1], args[1:]
    else:
        return before + args
    rest = before + rest
    command = next((i for i, arg in enumerate(rest) if not arg.startswith("-")), None)
    if command is None:
        return rest
    at = command + 1
    if rest[command] in GROUPS:
        if len(rest) == at or rest[at].startswith("-"):
            return rest  # no subcommand (gitlog -C PATH exp --help): as with no command
        at += 1
    return rest[:at] + option + rest[at:]


def _run(args: list[str]) -> int:
    """Run one command line; its exit code."""
    args = repo_first(args)
    if args[:1] == ["history"]:
        from ._fastpath import history_arguments

        found = history_arguments(args[1:])
        if found is not None:
            import gc

            was = gc.isenabled()
            gc.disable()  # one query: its imports make no garbage worth a scan
            try:
                from .historyview import show_history

                show_history(**found)
            finally:
                if was:
                    gc.enable()
            return 0
    import click

    from ._group import cli

    try:
        rv = cli.main(args=args, prog_name="gitlog", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        if exc.__class__.__name__ == "NoArgsIsHelpError":  # a group alone: its usage
            exc.show()
            return exc.exit_code
        # one line, as gitlog's other errors: the problem, then where the usage is
        from ._output import echo_err

        command = exc.ctx.command_path if exc.ctx is not None else _command_path(args)
        echo_err(f"Error: {exc.format_message()}")
        echo_err(f"hint: {command} --help shows the usage")
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None
    return rv if isinstance(rv, int) else 0


def _command_path(args: list[str]) -> str:
    """The command a command line names (``gitlog exp new``): the usage hint of an error
    click's parser raises with no context (an option missing its value) names its help.
    Option values come after it (``repo_first`` moved ``-C PATH`` there)."""
    import click

    from ._group import cli

    path: list[str] = ["gitlog"]
    group: click.Command = cli
    for arg in args:
        if arg.startswith("-"):
            continue
        found = group.get_command(click.Context(group), arg) \
            if isinstance(group, click.Group) else None
        if found is None:
            break
        path.append(arg)
        group = found
    return " ".join(path)


def _hold_closed_streams() -> None:
    """A shell's ``>&-`` (``2>&-``, ``<&-``) starts gitlog with that descriptor closed,
    and Python with no ``sys.stdout``: writing the output raised AttributeError (exit 3),
    and the first file gitlog opened (``gitlog run``'s journal) took the free number, so
    the command it runs would write into it. Each closed one is held open on the null
    device, as ``git`` and ``python`` treat it: what goes there goes nowhere."""
    import os

    for fd, name, mode in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY),
                           (2, "stderr", os.O_WRONLY)):
        if getattr(sys, name) is not None:
            continue
        null = os.open(os.devnull, mode)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115


def _stdout_cannot_write(exc: UnicodeEncodeError) -> bool:
    """Whether ``exc`` is stdout's encoding (``PYTHONIOENCODING=ascii``, a Latin-1
    locale) refusing a character of the output (a sparkline's ``▁``, a subject's
    ``é``): a fact of the terminal, one clear error, not an unexpected bug."""
    import codecs

    encoding = getattr(sys.stdout, "encoding", None)
    try:
        return encoding is not None and \
            codecs.lookup(encoding).name == codecs.lookup(exc.encoding).name
    except LookupError:
        return False


def _drop_stdout() -> None:
    """The reader of stdout went away (``gitlog history | head``): send what is still
    buffered nowhere, so the exit does not fail flushing it."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

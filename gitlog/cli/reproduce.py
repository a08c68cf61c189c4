"""``gitlog reproduce``."""

from __future__ import annotations

import click

from ._group import command_words, pass_repo
from ._output import echo, format_option, render


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("rev")
@click.option("--rtol", type=float, default=None,
              help="Relative tolerance per metric (default: reproduce.rtol in "
                   ".gitlog.yaml, 0.001).")
@click.option("--atol", type=float, default=0.0, show_default=True,
              help="Absolute tolerance per metric (for metrics near 0).")
@click.option("--dvc-remote", metavar="NAME", default=None,
              help="DVC remote for data artifacts missing from the local cache.")
@pass_repo
@format_option("table", "json", "csv")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def reproduce(rev: str, rtol: float | None, atol: float, dvc_remote: str | None, repo: str,
              fmt: str, command: tuple[str, ...]) -> None:
    """Re-run run REV in a temporary worktree and compare its metrics.

    The run's code and params come from its commit, its data artifacts from DVC; the
    recorded command (or COMMAND after --) runs as a new run of the same experiment.
    Prints each metric old vs new with pass/fail; exits 0 when every metric reproduces.
    The command's own output goes to stderr. Your checkout is not touched.

    Example: gitlog reproduce baseline --rtol 0.01
    """
    from gitlog.config import load
    from gitlog.errors import GitlogError
    from gitlog.git import Repo
    from gitlog.reproduce import reproduce as do_reproduce

    words = command_words(command)
    r = Repo(repo)
    config = load(r.root)
    result = do_reproduce(rev, r, config, command=words or None, rtol=rtol, atol=atol,
                          dvc_remote=dvc_remote or config["remote"]["dvc"])
    rows = [{"metric": c.name, "old": c.old, "new": c.new, "rel_diff": c.rel_diff,
             "result": "pass" if c.ok else "FAIL"} for c in result.checks]
    echo(render(rows, fmt, ["metric", "old", "new", "rel_diff", "result"]))
    where = result.new_commit[:10] if result.new_commit else "no commit"
    tolerance = f"rtol={result.rtol:g}" + (f", atol={result.atol:g}" if result.atol else "")
    summary = (f"run {result.old_run} -> run {result.new_run} ({where}): "
               f"{sum(c.ok for c in result.checks)}/{len(result.checks)} metrics within "
               f"{tolerance}")
    if result.ok:
        click.echo(f"gitlog: reproduced {summary}", err=True)
        return
    if result.status != "completed":
        raise GitlogError(f"did not reproduce: the command ended {result.status} (exit code "
                          f"{result.exit_code}); {summary}",
                          hint="its output is above; fix it, or give another command after --")
    missing = [c.name for c in result.checks if c.new is None]
    raise GitlogError(f"did not reproduce: {summary}",
                      hint=f"the new run logged no {', '.join(missing)}: does the command "
                           "log them (gitlog.start() in it)?" if missing else
                      "look for nondeterminism (seeds, data order), or loosen --rtol")

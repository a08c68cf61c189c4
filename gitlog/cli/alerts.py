"""``gitlog alerts test`` and ``gitlog alerts check``."""

from __future__ import annotations

import click

from ._group import pass_repo
from ._output import echo, echo_err, format_option, render


@click.group()
def alerts() -> None:
    """Alert rules from .gitlog.yaml: send a test alert, or check a logged run.

    Example: gitlog alerts check exp/baseline
    """


@alerts.command("test")
@click.argument("rule", required=False)
@pass_repo
@format_option("table", "json", "csv")
def test(rule: str | None, repo: str, fmt: str) -> None:
    """Send a test alert through RULE's notifiers (default: every notifier).

    Prints one row per notifier; exits 1 when any delivery failed (after its retries).

    Example: gitlog alerts test loss-nan
    """
    from gitlog.alerts.check import send_test
    from gitlog.config import load
    from gitlog.errors import GitlogError
    from gitlog.git import Repo

    r = Repo(repo)
    results = send_test(r, load(r.root), rule)
    rows = [{"notifier": d.notifier, "result": "sent" if d.ok else "failed",
             "attempts": d.attempts, "error": d.error} for d in results]
    echo(render(rows, fmt, ["notifier", "result", "attempts", "error"]))
    failed = [d.notifier for d in results if not d.ok]
    if failed:
        raise GitlogError(f"test alert not delivered to {', '.join(failed)}",
                          hint="check the notifier settings and environment variables in "
                               ".gitlog.yaml")


@alerts.command("check")
@click.argument("rev", required=False)
@click.option("--notify", is_flag=True, help="Also send the alerts that fire.")
@pass_repo
@format_option("table", "json", "csv")
def check(rev: str | None, notify: bool, repo: str, fmt: str) -> None:
    """Evaluate every alert rule on the run at REV, without training.

    REV is a commit, an experiment or a run id (default: HEAD's run, else the newest).
    Metric rules run over the stored series, event rules over the events, drop/rise
    rules against the previous run (or the rule's baseline). Nothing is sent unless
    --notify is given; then it exits 1 when a delivery failed (after its retries).

    Example: gitlog alerts check baseline --notify
    """
    from gitlog.alerts.check import check as check_run
    from gitlog.alerts.check import run_label, send_now
    from gitlog.config import load
    from gitlog.errors import GitlogError
    from gitlog.git import Repo
    from gitlog.query import resolve_run

    r = Repo(repo)
    config = load(r.root)
    commit = resolve_run(r, config, rev)
    notes: list[str] = []
    about: dict[str, object] = {}
    fired = check_run(r, config, commit, notes, about, rev)
    for text in notes:
        echo_err(f"warning: {text}")
    rows, failed = [], []
    for alert, payload in fired:
        row = {"rule": alert.rule.name, "metric": alert.metric, "value": alert.value,
               "step": alert.step, "message": alert.message}
        if notify:
            results = send_now(r, config, alert.rule, payload)
            row["sent"] = ", ".join(f"{d.notifier}:{'ok' if d.ok else 'failed'}"
                                    for d in results)
            failed += [f"{alert.rule.name} to {d.notifier} ({d.error})"
                       for d in results if not d.ok]
        rows.append(row)
    if not rows and fmt == "table":
        click.echo(f"no alert fires on {run_label(about)}", err=True)
        return
    columns = ["rule", "metric", "value", "step", "message"] + (["sent"] if notify else [])
    echo(render(rows, fmt, columns))
    if failed:
        raise GitlogError(f"alert not delivered: {'; '.join(failed)}",
                          hint="check the notifier settings and environment variables in "
                               ".gitlog.yaml; 'gitlog alerts test' tries every notifier")

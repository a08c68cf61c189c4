"""``gitlog demo``."""

from __future__ import annotations

import click


@click.command()
@click.argument("directory", required=False)
def demo(directory: str | None) -> None:
    """Build a demo ML repository with real training runs, then list them.

    DIRECTORY defaults to a new ./gitlog-demo folder. The demo trains a classifier on
    scikit-learn's breast-cancer data (needs scikit-learn: pip install 'gitlog[sklearn]'),
    logs runs on two experiments with a code change between runs, and prints
    'gitlog ls' and each run's summary.

    Example: gitlog demo /tmp/demo && cd /tmp/demo && gitlog ls
    """
    from gitlog.demo import build_demo, demo_target
    from gitlog.errors import GitlogError

    demo_target(directory)  # a file or a full folder: said before anything else
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise GitlogError("the demo needs scikit-learn",
                          hint="pip install 'gitlog[sklearn]'") from None
    result = build_demo(directory, progress=lambda m: click.echo(f"gitlog demo: {m}", err=True))
    from gitlog import query
    from gitlog.cli._output import render
    from gitlog.cli.historyview import render_history
    from gitlog.historyquery import query_history

    click.echo(f"Demo repository: {result.path}\n")
    rows = query.list_experiments(result.path)
    click.echo(render([{"experiment": r.experiment, "runs": r.runs, "status": r.status,
                        **r.metrics} for r in rows], "table"))
    for run in result.runs:
        view = query.show(run.commit, result.path)
        flat = view.record.flat_metrics
        params = view.record.params
        click.echo(f"\n{run.commit[:10]}  {run.experiment:<10} {run.status:<9} {run.note}\n"
                   f"  params: lr={params.get('lr')} alpha={params.get('alpha')}  "
                   f"metrics: loss={flat.get('loss'):.4f} val_loss={flat.get('val_loss'):.4f} "
                   f"accuracy={flat.get('accuracy'):.3f} f1={flat.get('f1'):.3f}")
    from shlex import quote

    from gitlog.demo import gitlog_command

    cmd = gitlog_command()
    click.echo(f"\nNext: cd {quote(str(result.path))} && {cmd} ls && {cmd} show baseline")
    click.echo("\n$ gitlog history --metric loss --all")
    click.echo(render_history(query_history(["loss"], all=True, repo=result.path), "table"))
    from gitlog.demo import DEPLOY_BRANCH

    metrics = ["error_rate", "latency_ms/p99"]
    click.echo(f"\n$ gitlog history {' '.join(f'--metric {m}' for m in metrics)} "
               f"{DEPLOY_BRANCH}")
    click.echo(render_history(query_history(metrics, [DEPLOY_BRANCH], repo=result.path),
                              "table"))

"""``gitlog index``."""

from __future__ import annotations

import click

from ._group import pass_repo
from ._table import Progress


@click.command()
@click.option("--rebuild", is_flag=True, help="Throw the cache away and build it anew.")
@pass_repo
def index(rebuild: bool, repo: str) -> None:
    """Fill the query cache (.git/gitlog/index.sqlite) with every run.

    Queries fill the cache as they go and the post-commit step adds each new run, so
    this is rarely needed; --rebuild starts from scratch. A cache that is corrupt or from
    another gitlog version is detected and rebuilt by any query.

    Example: gitlog index --rebuild
    """
    from gitlog.indexing import update

    progress = Progress()
    try:
        stats = update(repo, rebuild=rebuild, progress=progress)
    finally:
        progress.done()
    action = "rebuilt" if stats.rebuilt else "updated"
    click.echo(f"{action} {stats.path}: {stats.runs} runs reachable "
               f"({stats.cached_before} cached before) in {stats.seconds:.2f} s", err=True)

"""Environment variables gitlog reads: the one place their names live.

The library reads the environment only through these helpers; the CLI and ``start()``
call them.
"""

from __future__ import annotations

import os

RUN_ID = "GITLOG_RUN_ID"            # set by `gitlog run`: the child attaches to this run
RUN_JOURNAL = "GITLOG_RUN_JOURNAL"  # set by `gitlog run`: the journal folder of that run
EXPERIMENT = "GITLOG_EXPERIMENT"    # default experiment name
LEVEL = "GITLOG_LEVEL"              # event level threshold (debug|info|warning|error|critical)
SYSTEM_METRICS = "GITLOG_SYSTEM_METRICS"  # set by `gitlog run --system-metrics`: it samples


def get(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def attached_run() -> tuple[str, str] | None:
    """The (run id, journal path) a parent `gitlog run` handed down, if any."""
    run_id, journal = get(RUN_ID), get(RUN_JOURNAL)
    if run_id and journal:
        return run_id, journal
    return None


def secret(name: str) -> str | None:
    """The value of an environment variable a config ``*_env`` key names (alert secrets)."""
    return get(name)

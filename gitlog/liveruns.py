"""The live runs of this process, and which one a module-level call logs to."""

from __future__ import annotations

import threading
from typing import Any

from .errors import no_active_run

_ACTIVE: list[Any] = []  # the live runs, oldest first
_ACTIVE_LOCK = threading.Lock()


def current_run() -> Any:
    """The innermost live run this thread started, else the innermost live run; None
    when there is none. (By start order alone, a sweep's thread pool logged each
    thread's ``gitlog.log_metric`` into whichever run a thread had started last.)"""
    me = threading.get_ident()
    with _ACTIVE_LOCK:
        return next((run for run in reversed(_ACTIVE) if run._thread == me),
                    _ACTIVE[-1] if _ACTIVE else None)


def active_run() -> Any:
    """``current_run()``; RunStateError when there is none."""
    run = current_run()
    if run is None:
        raise no_active_run()
    return run

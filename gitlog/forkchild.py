"""Logging from a forked child: a DataLoader or ``multiprocessing`` worker.

A child made by ``fork`` holds a copy of its parent's runs, buffers and all, but not the
thread that writes them: a point or event it logged sat in the copy's buffer and
vanished with the child, without a word. In the child, each inherited run's append now
warns once (``GitlogWarning``, at the line that logged) and drops the item; the parent's
run is untouched, and the parent's own logging pays nothing for this (the switch happens
once, at the fork).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from .recorder import GitlogWarning

_installed = [False]


def watch(active: list[Any]) -> None:
    """At every fork from now on, turn the runs in ``active`` into the child's copies."""
    if _installed[0] or not hasattr(os, "register_at_fork"):
        return
    _installed[0] = True
    os.register_at_fork(after_in_child=lambda: _in_child(active))


def _in_child(active: list[Any]) -> None:
    for run in list(active):  # no lock: another thread of the parent may have held it
        run._append = _Dropped(run.id)


class _Dropped:
    """A forked child's ``Run._append``: warn at the first item, drop every one."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.warned = False

    def __call__(self, item: tuple[Any, ...]) -> None:
        if self.warned:
            return
        self.warned = True
        what = f"metric {item[1]!r}" if len(item) == 4 else "an event"
        warnings.warn(f"gitlog: {what} logged in a forked child process (pid {os.getpid()}, "
                      f"a DataLoader or multiprocessing worker) is not recorded: run "
                      f"{self.run_id} is written by the process that started it; log from "
                      "that process (return the values to it), or call gitlog.start() in "
                      "the child for a run of its own", GitlogWarning, stacklevel=3)

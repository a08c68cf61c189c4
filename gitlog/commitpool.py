"""The worker threads a run's commit hashes and compresses its files in.

Python stops its thread pools when the main thread ends, before it waits for the other
threads: a run that a (non-daemon) thread started or finished after that was refused
('cannot schedule new futures after interpreter shutdown'; importing the pools then even
failed, 'can't register atexit after shutdown'). Such a commit does the same work in its
own thread, one file after another.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Future  # (not the pools: see pools_stopped)
from typing import Any


def pools_stopped() -> bool:
    """Whether Python has stopped its thread pools (or would refuse to load them)."""
    if not getattr(threading, "_SHUTTING_DOWN", False):
        return False
    pools = sys.modules.get("concurrent.futures.thread")
    return pools is None or getattr(pools, "_shutdown", True)


def commit_pool() -> Any:
    """Two worker threads (a ``ThreadPoolExecutor``), or an ``InlinePool`` once the thread
    pools are stopped."""
    if pools_stopped():
        return InlinePool()
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="gitlog-commit")


class InlinePool:
    """A stand-in for a thread pool that runs each task at once, in the calling thread."""

    def submit(self, fn: Any, *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def __enter__(self) -> InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

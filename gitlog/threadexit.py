"""At interpreter exit: the runs a script left open are finished, but a run another
thread is still working in is left to that thread.

Python calls gitlog's exit hook (which finishes the runs a script left open) when the
main thread ends, before it waits for the other threads: a thread-pool trial still
training in a ``with gitlog.start()`` block had its run finished under it (committed
``completed`` with the points logged so far; its next ``log_metric`` raised
``RunStateError`` in the worker, which a pool's future keeps silent). Such a run is now
waited for while its thread is still inside the function that started it; one the
thread left open behind (it returned, or ended) is finished at once, as before.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

POLL = 0.05  # seconds between looks at the other thread


def at_main_exit(fn: Any) -> None:
    """Call ``fn`` when the main thread ends, before the interpreter stops thread pools:
    committing a run uses one, and an ``atexit`` handler runs after they are stopped
    ('cannot schedule new futures after interpreter shutdown': the run was left for
    ``gitlog recover``). The hooks run last-registered first, so the pools' own hook is
    registered (by importing them) before this one. Once the main thread has ended (a
    thread that outlives it calls this), registering such a hook raises 'can't register
    atexit after shutdown': ``fn`` then runs at the interpreter's exit, once the other
    threads have ended (a commit then does without the stopped pools: commitpool)."""
    import atexit

    register = getattr(threading, "_register_atexit", None)
    if register is None or getattr(threading, "_SHUTTING_DOWN", False):
        atexit.register(fn)
        return
    import concurrent.futures.thread  # noqa: F401

    register(fn)


def wait_for_owner(run: Any) -> None:
    """Return once the thread that started ``run`` has left the function that called
    ``start()`` (or ended); at once when the run is finished already. Daemon threads
    are not waited for: Python does not wait for them either."""
    frame = run._started_in
    thread = next((t for t in threading.enumerate() if t.ident == run._thread), None)
    if frame is None or thread is None or thread.daemon or \
            thread is threading.current_thread():
        return
    done = threading.Event()
    # (not until the run is finished: its commit, after that, needs the thread pools
    # Python stops once this hook returns)
    while thread.is_alive() and _inside(thread, frame):
        done.wait(POLL)


def _inside(thread: threading.Thread, frame: Any) -> bool:
    current = sys._current_frames().get(thread.ident or 0)
    while current is not None:
        if current is frame:
            return True
        current = current.f_back
    return False


def finish_leftovers() -> None:
    """At interpreter exit, finish runs the script forgot to finish (of this process: a
    forked child that exits normally leaves its parent's runs to the parent): failed
    when the script ended with ``sys.exit(N)``, N not 0."""
    from . import exitstatus
    from .liveruns import _ACTIVE

    code, status = exitstatus.main_exit() or (None, None)
    seen: list[Any] = []  # (the runs a pool's queued trials start meanwhile too)
    while todo := [r for r in list(_ACTIVE) if r._pid == os.getpid() and r not in seen]:
        for run in todo:
            seen.append(run)
            wait_for_owner(run)  # a thread still training in it finishes it itself
            if not (run._finished or run._finishing):
                run._end_with_exit(code, status)


def serving_threads() -> bool:
    """Whether a thread Python waits for at exit is alive, other than the thread pools'
    workers (they end only after this hook: waiting for them never ends). In a
    ``multiprocessing`` child, never: it ends with ``os._exit``, without atexit."""
    process = sys.modules.get("multiprocessing.process")
    if process is not None and process.parent_process() is not None:
        return False
    pools: set[threading.Thread] = set()
    for name, attr in (("concurrent.futures.thread", "_threads_queues"),
                       ("concurrent.futures.process", "_threads_wakeups")):
        pools.update(getattr(sys.modules.get(name), attr, None) or ())
    current = threading.current_thread()
    return any(t is not current and not t.daemon and t.is_alive() and t not in pools
               for t in threading.enumerate())

"""SIGTERM and SIGHUP while runs are live: write their buffers, then die of the signal.

Python dies of SIGTERM or SIGHUP at once, without atexit handlers: the points and events
a run buffered since its last flush (up to ``flush_interval`` seconds of training) would
be lost, both under ``gitlog run`` (which passes the signals on to its command) and for
a script run on its own (whose journal ``gitlog recover`` commits). The handler
(``sigarm``, set from ``import gitlog`` on) writes every live run's buffer to its journal,
whatever thread started the run, then puts the default action back and sends the signal
again, so the process ends exactly as it would have. Python runs handlers in the main
thread; gitlog's own background threads block these signals, so the kernel gives them
to the main thread. A forked child gets the default actions back
(``sigarm.child_defaults``): the buffers it holds are copies of its parent's, and a
handler there could leave a pool worker unkillable.
An object with a ``pid`` (a deployment monitor) is written only in that process. A
signal arriving while the main thread commits inside ``held()`` (a monitor's last
window at exit, a flush) is acted on once that commit is done: a pool worker ending
normally commits its last window, and ``Pool.terminate``'s SIGTERM came in the middle of
that commit and killed it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any

from . import sigarm

SIGNALS = sigarm.SIGNALS

_live: list[Any] = []  # recorders whose buffers a signal must write
_owner = [os.getpid()]  # the process whose runs those are
_holding = [0]  # held() blocks the main thread is in
_pending: list[int] = []  # the signals that arrived meanwhile


def on_signal(signum: int, _frame: Any) -> None:
    """``sigarm.handler``: write every live run's buffer, then die of the signal."""
    if _holding[0]:
        _pending.append(signum)
        return
    # a forked child (a multiprocessing or DataLoader worker, which its pool ends with
    # SIGTERM) inherits the handler and a copy of the buffers: those are the parent's
    pid = os.getpid()
    for recorder in list(_live):
        if getattr(recorder, "pid", _owner[0]) != pid:
            continue
        with contextlib.suppress(Exception):  # dying anyway: what was written stays
            recorder.flush_for_exit()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_THREAD_SIGNALS = {*SIGNALS, signal.SIGINT}


def off_this_thread() -> None:
    """Called first in gitlog's long-lived background threads (the flusher, the resource
    sampler, a monitor's windows): SIGTERM, SIGHUP and SIGINT are blocked in it, so the
    kernel gives them to the main thread. Python runs handlers there, but a signal the
    kernel gave another thread does not interrupt the main thread's blocking call: a
    ``multiprocessing`` pool worker waiting on its task queue never ran the handler, nor
    died, and ``Pool.terminate`` waited for it forever. A thread that starts processes
    takes the signals back meanwhile (``on_this_thread``): a child inherits its mask."""
    _mask(signal.SIG_BLOCK)


@contextlib.contextmanager
def on_this_thread() -> Any:
    """The signals ``off_this_thread`` blocked, unblocked for the block (git processes it
    starts take SIGINT and SIGTERM as usual)."""
    _mask(signal.SIG_UNBLOCK)
    try:
        yield
    finally:
        _mask(signal.SIG_BLOCK)


def _mask(how: int) -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):  # (no pthreads)
        signal.pthread_sigmask(how, _THREAD_SIGNALS)


def track(recorder: Any) -> None:
    """Write ``recorder``'s buffer when a signal ends the process, until ``release``."""
    _live.append(recorder)
    _owner[0] = os.getpid()
    sigarm.arm()  # (gitlog was imported in another thread, or the handler was reset)


def release(recorder: Any) -> None:
    """``recorder`` is written for good. The handler stays: a run another thread starts
    later cannot set it (with no live run, it lets the signal end the process)."""
    if recorder in _live:
        _live.remove(recorder)


@contextlib.contextmanager
def held() -> Any:
    """In the main thread: a SIGTERM or SIGHUP that gitlog handles arriving inside is
    acted on when the block ends (the commit under way is finished, not killed
    halfway). Elsewhere: nothing (Python runs handlers in the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _holding[0] += 1
    try:
        yield
    finally:
        _holding[0] -= 1
        if not _holding[0] and _pending:
            signum = _pending[0]
            _pending.clear()
            on_signal(signum, None)

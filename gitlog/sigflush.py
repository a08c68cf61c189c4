"""SIGTERM and SIGHUP while runs are live: write their buffers, then die of the signal.

Python dies of SIGTERM or SIGHUP at once, without atexit handlers: the points and events
a run buffered since its last flush (up to ``flush_interval`` seconds of training) would
be lost, both under ``gitlog run`` (which passes the signals on to its command) and for
a script run on its own (whose journal ``gitlog recover`` commits). While a run is live,
a handler writes every live run's buffer to its journal, then puts the default action
back and sends the signal again, so the process ends exactly as it would have. Only a
signal left at its default is handled (an ignored one, or the script's own handler, is
kept), and only from the main thread, where Python runs handlers. A forked child
inherits the handler but writes nothing: the buffers it holds are copies of its parent's.
An object with a ``pid`` is written in that process: a deployment monitor, which a
forked child (a ``multiprocessing`` pool's worker, that ``Pool.terminate`` ends with
SIGTERM) takes over as its own. A signal arriving while the main thread commits inside
``held()`` (a monitor's last window at exit) is acted on once that commit is done: a pool
worker that ends sends it its last window, and ``Pool.terminate``'s SIGTERM came in the
middle of that commit and killed it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_live: list[Any] = []  # recorders whose buffers a signal must write
_installed: dict[int, Callable[[int, Any], None]] = {}
_owner = [os.getpid()]  # the process whose runs those are
_holding = [0]  # held() blocks the main thread is in
_pending: list[int] = []  # the signals that arrived meanwhile


def _handler(signum: int, _frame: Any) -> None:
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


def track(recorder: Any) -> None:
    """Write ``recorder``'s buffer when a signal ends the process, until ``release``."""
    _live.append(recorder)
    _owner[0] = os.getpid()
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        if sig not in _installed and signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _handler)
            _installed[sig] = _handler


def release(recorder: Any) -> None:
    """``recorder`` is written for good; the last one out puts the defaults back where
    the handler is still gitlog's (from the main thread only)."""
    if recorder in _live:
        _live.remove(recorder)
    if _live or threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in list(_installed.items()):
        if signal.getsignal(sig) is handler:
            signal.signal(sig, signal.SIG_DFL)
        del _installed[sig]


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
            _handler(signum, None)

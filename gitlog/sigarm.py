"""gitlog's SIGTERM and SIGHUP handler, put in place from ``import gitlog`` on.

Python lets only the main thread set a signal handler. A run (or monitor) that a worker
thread started (a thread-pool sweep's trial) while the main thread had none got no
handler: SIGTERM killed the process at once, and what the run buffered since its last
flush was lost. So the handler is set when gitlog is imported in the main thread (and
again by a run the main thread starts); it acts for every live run of the process,
whatever thread started it (``sigflush``), and with none it lets the process die of the
signal as it would without gitlog. Only a signal left at its default is handled (an
ignored one, or the script's own handler, is kept). This module imports only built-in
modules (``_signal``, ``_thread``, ``os``): the git hooks import gitlog, and pay for every
module.
"""

from __future__ import annotations

import _signal
import _thread
import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hooks ~5 ms
    from typing import Any

SIGNALS = (_signal.SIGTERM, _signal.SIGHUP)
_at_fork: list[bool] = []


def handler(signum: int, frame: Any) -> None:
    """The handler itself: sigflush's (imported when a signal comes)."""
    from .sigflush import on_signal

    on_signal(signum, frame)


def arm() -> None:
    """From the main thread: handle each of ``SIGNALS`` still at its default. Elsewhere
    nothing (Python refuses it)."""
    for sig in SIGNALS:
        try:
            if _signal.getsignal(sig) == _signal.SIG_DFL:
                _signal.signal(sig, handler)
        except ValueError:  # not the main thread
            return
    if not _at_fork and hasattr(os, "register_at_fork"):
        _at_fork.append(True)
        os.register_at_fork(before=_block, after_in_parent=_unblock,
                            after_in_child=child_defaults)


_masks: dict[int, Any] = {}  # each forking thread's signal mask before ``_block``


def _block() -> None:
    """Before a fork: ``SIGNALS`` wait in the forking thread until the child has its
    default actions back. A child holds gitlog's handler from the fork until
    ``child_defaults``, and a SIGTERM arriving meanwhile (a pool's ``terminate`` while a
    worker still starts, the machine busy) was dropped by Python's after-fork reset of
    pending signals: the worker lived on, blocked on its task queue, and ``terminate``
    waited for it forever."""
    try:
        mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, SIGNALS)
    except (AttributeError, OSError, ValueError):  # (no pthreads)
        return
    _masks[_thread.get_ident()] = mask


def _unblock() -> None:
    """After a fork (parent and child): the forking thread's mask as it was; a signal
    that came meanwhile is acted on now."""
    mask = _masks.pop(_thread.get_ident(), None)  # (a child keeps its thread's id)
    if mask is not None:
        try:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        except (AttributeError, OSError, ValueError):
            return


def child_defaults() -> None:
    """In a forked child, the signals gitlog handles end it at once again, as they would
    without gitlog. A Python handler runs only once the signal interrupts the main
    thread: a ``multiprocessing`` pool worker blocked on its task queue's lock (which
    ``Pool.terminate`` holds while it sends SIGTERM) now and then never ran it, nor
    died, and ``terminate`` waited for it forever. A child's monitor windows and runs
    are committed when it ends normally (``pool.close()``, ``join()``), not on a signal."""
    for sig in SIGNALS:
        try:
            if _signal.getsignal(sig) is handler:
                _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _unblock()  # (a SIGTERM that came since the fork ends the child now)

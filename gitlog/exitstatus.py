"""How a script ended that never finished its run (``run = gitlog.start()``, no ``with``
block, no ``gitlog run``): the run is committed when the main thread ends, ``failed``
with the exit code when the script ends with ``sys.exit(N)`` or ``exit(N)``, N not 0.

Python runs no hook for an uncaught ``SystemExit`` (``sys.excepthook`` sees the other
exceptions, which run.py records) and an exit hook cannot read the exit code. So while a
run is live, ``sys.exit`` and the ``exit`` and ``quit`` builtins are wrapped to note the
code they are given in the main thread and where the main module was then (its frame's
last instruction). At exit, the main module's frame tells whether it ended by returning
or by an exception that left it from that very instruction: a ``sys.exit`` the script
caught and went on from is not taken for the end. Nothing of this is on logging's path.
A bare ``raise SystemExit(N)`` calls nothing: Python 3.11 offers no hook that sees its
code short of tracing every call, so it is not seen.
"""

from __future__ import annotations

import builtins
import dis
import sys
import threading
from types import FrameType
from typing import Any, NoReturn

_RETURNS = {dis.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST") if name in dis.opmap}


class _Watch:
    frame: FrameType | None = None  # the main module's frame
    noted: tuple[Any, int] | None = None  # (sys.exit's argument, frame.f_lasti then)
    real_exit: Any = None
    quitters: dict[str, Any] = {}  # the builtins exit and quit gitlog replaced


def _note(status: Any) -> None:
    frame = _Watch.frame
    if frame is not None and threading.current_thread() is threading.main_thread():
        _Watch.noted = (status, frame.f_lasti)


class _Quitter:
    """``exit``/``quit`` (site's, which raise ``SystemExit`` without ``sys.exit``) while
    watched: the code is noted as ``sys.exit``'s is; shown as the real one."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __repr__(self) -> str:
        return repr(self.real)

    def __call__(self, code: Any = None) -> NoReturn:
        _note(code)
        self.real(code)
        raise SystemExit(code)  # (the real one raised already)


def _main_frame() -> FrameType | None:
    """The outermost frame running the ``__main__`` module's body (a script, ``-m``,
    ``-c``), from the frame that calls this."""
    found = None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            found = frame
        frame = frame.f_back
    return found


def _exit(status: Any = None, /) -> NoReturn:
    _note(status)
    _Watch.real_exit(status)
    raise SystemExit(status)  # (the real sys.exit raised already)


def _watch() -> None:
    """Note how the main module ends, from the first live run on (main thread)."""
    _Watch.frame = _main_frame()
    _Watch.noted = None
    _Watch.real_exit = sys.exit
    sys.exit = _exit
    for name in ("exit", "quit"):  # (absent under python -S)
        real = getattr(builtins, name, None)
        if real is not None and not isinstance(real, _Quitter):
            _Watch.quitters[name] = real
            setattr(builtins, name, _Quitter(real))


def _unwatch() -> None:
    """The last live run is finished: ``sys.exit``, ``exit`` and ``quit`` go back (each
    that is still ours)."""
    if sys.exit is _exit:
        sys.exit = _Watch.real_exit
    for name, real in _Watch.quitters.items():
        if isinstance(getattr(builtins, name, None), _Quitter):
            setattr(builtins, name, real)
    _Watch.quitters.clear()
    _Watch.frame = _Watch.noted = None


def main_exit() -> tuple[int, Any] | None:
    """(exit code, sys.exit's argument) when the main module ended with ``sys.exit(...)``
    (code 0 for ``sys.exit()``, 1 for a message, as Python exits); None when it returned
    or its end is not known (``raise SystemExit(N)`` is not seen). ``exit(N)`` and
    ``quit(N)`` are noted as ``sys.exit(N)`` is."""
    frame, noted = _Watch.frame, _Watch.noted
    if frame is None or noted is None:
        return None
    code = frame.f_code.co_code
    if frame.f_lasti >= len(code) or code[frame.f_lasti] in _RETURNS \
            or frame.f_lasti != noted[1]:
        return None
    return code_of(noted[0]), noted[0]


class ExceptHook:
    """A run's part of ``sys.excepthook`` (main thread only): an uncaught exception goes
    to ``uncaught(exc, tb)`` of every live run (each records it and finishes), then to the
    hook there was before; ``sys.exit`` is watched (``_watch``) while one is installed.

    One hook serves all the live runs: a hook per run, each chained to the one before,
    kept a finished run (and its buffers) alive in the chain whenever runs did not end in
    the reverse order they started (a notebook, a sweep), one more per such pair.
    """

    def __init__(self, uncaught: Any) -> None:
        self.uncaught = uncaught
        self.installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if not _Hooked.runs:
            _Hooked.prev = sys.excepthook  # (None when a script cleared it)
            sys.excepthook = _hook
            _watch()  # and sys.exit(N), which no hook sees
        _Hooked.runs.append(self)
        self.installed = True

    def uninstall(self) -> None:
        if not self.installed:
            return
        self.installed = False
        if self in _Hooked.runs:
            _Hooked.runs.remove(self)
        if _Hooked.runs:
            return
        _unwatch()
        # Only undo our own hook: the script may have installed another one since.
        if sys.excepthook is _hook:
            sys.excepthook = _Hooked.prev
            _Hooked.prev = None


class _Hooked:
    runs: list[ExceptHook] = []  # of the live runs, oldest first
    prev: Any = None  # the sys.excepthook gitlog's replaced


def _hook(exc_type: Any, exc: BaseException, tb: Any) -> None:
    prev = _Hooked.prev
    for hooked in reversed(list(_Hooked.runs)):  # the innermost run first
        hooked.uncaught(exc, tb)
    (prev or sys.__excepthook__)(exc_type, exc, tb)


def code_of(status: Any) -> int:
    """The exit status the shell sees for ``SystemExit(status)``."""
    if status is None:
        return 0
    if isinstance(status, int):
        return status & 0xFF
    return 1

"""Starting a command in a session of its own and stopping it: the command and
everything it started, its whole process group, on Ctrl-C or a timeout.

The command is reaped with ``os.waitpid``, not ``Popen.wait``: a KeyboardInterrupt that
lands in ``Popen.wait(timeout)`` or ``Popen.poll()`` just after they took the Popen's
private wait lock leaves that lock held (CPython 3.11-3.13; 2 in 400 interrupted waits
here), and every later ``wait()`` blocked for good: ``gitlog alerts test`` hung on Ctrl-C
instead of exiting 130."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any


def start(argv: list[str], stop: Callable[[subprocess.Popen], None] | None = None,
          **popen: Any) -> subprocess.Popen:
    """``Popen(argv, start_new_session=True, **popen)``. Ctrl-C is held back while the
    command starts: one that interrupted Popen after its fork, before it returned, left the
    command running with no Popen to stop it. Held back, it comes after, to the handler it
    was meant for; when that raises (a KeyboardInterrupt), ``stop`` (default
    ``kill_group``) stops the command's group first."""
    held: list[int] = []
    old = signal.getsignal(signal.SIGINT)
    hold = (threading.current_thread() is threading.main_thread()
            and old not in (signal.SIG_IGN, None))
    if hold:
        signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum))
    try:
        proc = subprocess.Popen(argv, start_new_session=True, **popen)
    except BaseException:  # (a command not found): the Ctrl-C held meanwhile comes first
        if hold:
            signal.signal(signal.SIGINT, old)
        if held:
            signal.raise_signal(signal.SIGINT)
        raise
    if hold:
        signal.signal(signal.SIGINT, old)
    if held:
        try:
            signal.raise_signal(signal.SIGINT)  # now, to the handler it was meant for
        except BaseException:
            (stop or kill_group)(proc)
            raise
    return proc


def exited(proc: subprocess.Popen) -> bool:
    """True once ``proc`` has exited (reaped, its ``returncode`` set); never blocks."""
    return _reap(proc, os.WNOHANG)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s process group (grandchildren included) and reap ``proc``."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
    _reap(proc, 0)


def stop_group(proc: subprocess.Popen, patience: float = 30.0) -> None:
    """SIGINT ``proc``'s process group and wait until it is gone (the steps write down what
    they were doing); SIGKILL what is left after ``patience`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if exited(proc):
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    kill_group(proc)


def _reap(proc: subprocess.Popen, flags: int) -> bool:
    if proc.returncode is not None:
        return True
    try:
        pid, status = os.waitpid(proc.pid, flags)
    except ChildProcessError:  # reaped meanwhile by Popen itself, which set returncode
        return True
    if pid == 0:
        return False
    proc.returncode = os.waitstatus_to_exitcode(status)
    return True

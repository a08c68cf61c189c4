"""Ctrl-C while gitlog waits for a command it started in a session of its own.

CI hung once for 60 s in ``gitlog alerts test`` after a single SIGINT: the KeyboardInterrupt
had landed in ``Popen.wait(timeout)`` just after it took the Popen's private wait lock,
which CPython then never releases (2 in 400 interrupted waits on this machine), and the
``proc.wait()`` that followed the group's SIGKILL blocked for good. Here the lock is held
as that interrupted wait leaves it, so the case is the same every time."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

from gitlog import procgroup
from tests.test_alerts import alive, wait_dead

JOB = "sleep 60 & echo $! > bg.pid; wait"


def start_job(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(["sh", "-c", JOB], cwd=tmp_path, start_new_session=True)
    pid_file = tmp_path / "bg.pid"
    for _ in range(400):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        threading.Event().wait(0.05)
    return proc, int(pid_file.read_text())


def finishes(call: Any, *args: Any) -> bool:
    """Does ``call(*args)`` return within 20 s (it blocked for good before the fix)?"""
    done = threading.Event()

    def target() -> None:
        call(*args)
        done.set()

    threading.Thread(target=target, daemon=True).start()
    return done.wait(20)


def test_kill_group_ends_the_job_even_when_an_interrupted_wait_left_the_lock(
        tmp_path: Path) -> None:
    proc, grandchild = start_job(tmp_path)
    proc._waitpid_lock.acquire()  # type: ignore[attr-defined]  # as the interrupted wait
    try:
        assert finishes(procgroup.kill_group, proc), "kill_group blocked on the wait lock"
        assert proc.returncode == -9
        assert wait_dead(grandchild), "the command's background job outlived it"
    finally:
        if alive(grandchild):
            subprocess.run(["kill", "-9", str(grandchild)], check=False)


def test_stop_group_interrupts_the_job_even_when_an_interrupted_wait_left_the_lock(
        tmp_path: Path) -> None:
    """``stop_group`` polled with ``Popen.poll``, which takes the same lock: it never saw
    the shell exit, and after its patience blocked in ``wait``. (The background ``sleep``
    ignores SIGINT, as a non-interactive shell's jobs do: SIGKILL ends it.)"""
    proc, grandchild = start_job(tmp_path)
    proc._waitpid_lock.acquire()  # type: ignore[attr-defined]
    try:
        assert finishes(procgroup.stop_group, proc, 1.0), "stop_group blocked"
        assert proc.returncode in (-2, -9)
        assert wait_dead(grandchild)
    finally:
        if alive(grandchild):
            subprocess.run(["kill", "-9", str(grandchild)], check=False)


def test_ctrl_c_while_the_command_starts_stops_it(tmp_path: Path) -> None:
    """A SIGINT that came after Popen's fork, before it returned (here the child sends it
    before its exec), raised out of Popen: the command ran on with no one to stop it."""
    import os
    import signal

    import pytest

    def interrupt_parent() -> None:
        os.kill(os.getppid(), signal.SIGINT)

    job = f"echo $$ > sh.pid; {JOB}"
    with pytest.raises(KeyboardInterrupt):
        procgroup.start(["sh", "-c", job], cwd=tmp_path, preexec_fn=interrupt_parent)
    threading.Event().wait(0.5)  # what a command left running would have written by now
    pids = [int(f.read_text()) for f in (tmp_path / "sh.pid", tmp_path / "bg.pid")
            if f.exists() and f.read_text().strip()]
    try:
        assert all(wait_dead(pid) for pid in pids), "the command ran on after Ctrl-C"
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_ctrl_c_while_a_command_fails_to_start_is_not_lost(tmp_path: Path) -> None:
    """A Ctrl-C held back while Popen ran, which then failed (the program cannot run),
    was dropped with the OSError: the user's interrupt did nothing."""
    import os
    import signal

    import pytest

    def interrupt_parent() -> None:
        os.kill(os.getppid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        procgroup.start([str(tmp_path / "not-a-program")], preexec_fn=interrupt_parent)

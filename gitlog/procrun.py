"""``gitlog run``: run a command as a logged run.

The child's ``gitlog.start()`` attaches to this run through environment variables; its
stdout and stderr pass through and are kept as events; exit code, duration, peak memory
and CPU time are recorded.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from . import env
from .errors import CommandNotFoundError, GitlogError
from .run import Run
from .session import open_run

MAX_LINE = 4000


@dataclass
class CommandResult:
    run: Run
    exit_code: int
    status: str
    # why the run could not be committed (its journal is kept for ``gitlog recover``);
    # the exit code is then non-zero: COMMAND's own, else 1
    unstored: Exception | None = None

    def unstored_error(self) -> GitlogError | None:
        """The error for a run that could not be committed (None when it was): why, where
        its data is kept, and what to run."""
        if self.unstored is None:
            return None
        from .run import unstored_fix

        run = self.run
        return GitlogError(f"run {run.id} of {run.experiment} not committed: {self.unstored}; "
                           f"its data is kept in {run.journal.path}",
                           hint=unstored_fix(self.unstored))


def parse_param(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as YAML (numbers, booleans, lists stay typed)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise GitlogError(f"bad param {text!r}: expected key=value",
                          hint="write it like -p lr=0.1")
    from .layout import yaml_load

    try:
        value = yaml_load(raw) if raw.strip() else ""
    except Exception:
        value = raw
    if isinstance(value, (dict, list)) or value is None:
        value = value if raw.strip() not in ("", "~", "null") else raw
    return key, value


# Signals that stop a job (``kill``, ``timeout``, a scheduler, a closed terminal): gitlog
# passes them on to the command and commits the run when it exits.
FORWARDED = (signal.SIGTERM, signal.SIGHUP)


def _wait_for_command(_signum: int, _frame: Any) -> None:
    """SIGINT while the command runs: the command got it too; wait for it to exit."""


class _Forwarder:
    """While the command runs, SIGTERM and SIGHUP sent to gitlog go on to the command
    (which ``kill PID`` or ``timeout`` would not reach), and gitlog waits for it to exit
    instead of dying with the run uncommitted. A signal that comes before the command
    started is passed on once it has."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.proc: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []
        self.old: dict[int, Any] = {}

    def install(self) -> None:
        for sig in FORWARDED:
            # An ignored signal (nohup's SIGHUP) stays ignored, in the command too.
            if signal.getsignal(sig) is not signal.SIG_IGN:
                self.old[sig] = signal.signal(sig, self._handle)

    def started(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        for sig in self.pending:
            self._send(sig)
        self.pending.clear()

    def restore(self) -> None:
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
        self.old.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        self.run.warning(f"gitlog run got {signal.Signals(signum).name}; passed it on to "
                         "the command", signal=signal.Signals(signum).name)
        if self.proc is None:
            self.pending.append(signum)
        else:
            self._send(signum)

    def _send(self, signum: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(OSError):  # it has already exited
            self.proc.send_signal(signum)


def _pump(stream: BinaryIO, out: BinaryIO, run: Run, name: str, budget: list[int],
          last: list[bytes]) -> None:
    """Copy ``stream`` to ``out``, recording its lines; ``last[0]``: its last non-blank
    line (kept even past the capture limit)."""
    pending = b""
    while True:
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        try:
            out.write(chunk)
            out.flush()
        except (OSError, ValueError):
            pass
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            _record(run, name, line, budget)
        for line in reversed(lines):
            if line.strip():
                last[0] = line
                break
        pending = _unfinished(pending)
    if pending:
        _record(run, name, pending, budget)
        if pending.strip():
            last[0] = pending


def _shown(line: bytes) -> str:
    """A last stderr line as the exit event quotes it: its last redraw, at most 300
    characters."""
    text = line.decode("utf-8", "replace").rstrip("\r").rsplit("\r", 1)[-1].strip()
    return text if len(text) <= 300 else text[:297] + "..."


def _unfinished(pending: bytes) -> bytes:
    """What of a line still being written can end up in its event: the text after its
    last carriage return (a progress bar redraws itself that way, never ending the
    line), at most what ``MAX_LINE`` characters take. Kept whole, a progress bar's
    line would grow for the whole run, and be copied and searched at every read."""
    cut = pending.rstrip(b"\r").rfind(b"\r")
    if cut >= 0:
        pending = pending[cut + 1:]
    return pending[:MAX_LINE * 4 + 4]  # utf-8: at most 4 bytes a character


def _record(run: Run, stream: str, raw: bytes, budget: list[int]) -> None:
    if budget[0] <= 0:
        return
    budget[0] -= 1
    text = raw.decode("utf-8", "replace").rstrip("\r").rsplit("\r", 1)[-1]
    if len(text) > MAX_LINE:
        text = text[:MAX_LINE] + " [truncated]"
    run.log("info", text, stream=stream)
    if budget[0] == 0:
        run.log("warning", "output capture limit reached; later lines were not kept",
                limit=run.config["capture"]["max_lines"])


def command_script(argv: list[str]) -> str:
    """The script a command runs, whose name a new experiment takes when none is given
    (not gitlog's own): ``python train.py`` -> train.py, ``python -m pkg.train`` ->
    train, ``./train.sh`` -> train.sh."""
    for i, arg in enumerate(argv):
        if arg.endswith(".py"):
            return arg
        if arg == "-m" and i + 1 < len(argv) and Path(argv[0]).name.startswith("python"):
            return argv[i + 1].rsplit(".", 1)[-1]
    return argv[0]


def _in(cwd: str | Path | None, program: str) -> str:
    """``program`` as the command finds it when it starts in ``cwd``: a relative path
    (``./train.sh``) is relative to that folder, a bare name is looked up on PATH."""
    if cwd is None or os.sep not in program or os.path.isabs(program):
        return program
    return os.path.join(cwd, program)


def _not_runnable(argv: list[str], cwd: str | Path | None = None) -> CommandNotFoundError:
    """Why ``argv[0]`` cannot run: a path to a folder or to a file without the execute
    bit says so (not 'command not found' for a file that is right there)."""
    program = argv[0]
    where = _in(cwd, program)
    if os.sep in program and os.path.isdir(where):
        return CommandNotFoundError(program, "a folder, not a program",
                                    hint="name the program to run inside it")
    if os.sep in program and os.path.isfile(where):
        with_shell = shlex.join(["sh", *argv]) if program.endswith(".sh") else \
            shlex.join(["python", *argv]) if program.endswith(".py") else None
        return CommandNotFoundError(program, "not executable",
                                    hint=f"chmod +x {shlex.quote(program)}" +
                                    (f", or run it as: {with_shell}" if with_shell else ""))
    return CommandNotFoundError(program)


def _missing_interpreter(argv: list[str], cwd: str | Path | None) -> CommandNotFoundError | None:
    """A script whose ``#!`` line names an interpreter that is not there
    (``#!/usr/bin/python2``, ``#!/usr/bin/env python9``): exec fails with 'No such file or
    directory' of the script itself, and a failed run was committed."""
    path = shutil.which(_in(cwd, argv[0]))
    try:
        with open(path or argv[0], "rb") as script:
            head = script.readline(512)
    except OSError:
        return None
    words = head[2:].decode("utf-8", "replace").split() if head.startswith(b"#!") else []
    if not words:
        return None
    missing = words[0] if not os.path.exists(words[0]) else None
    if missing is None and os.path.basename(words[0]) == "env" and len(words) > 1 \
            and not words[1].startswith("-") and "=" not in words[1] \
            and shutil.which(words[1]) is None:
        missing = words[1]
    if missing is None:
        return None
    other = shlex.join(["sh", *argv]) if argv[0].endswith(".sh") else \
        shlex.join(["python", *argv]) if argv[0].endswith(".py") else None
    return CommandNotFoundError(argv[0], f"its #! interpreter {missing} is not found",
                                hint=f"fix the #! line of {argv[0]}" +
                                (f", or run it as: {other}" if other else ""))


def run_command(argv: list[str], *, repo: str | Path = ".", experiment: str | None = None,
                params: dict[str, Any] | None = None, message: str | None = None,
                stdout: BinaryIO | None = None, stderr: BinaryIO | None = None,
                cwd: str | Path | None = None, system_metrics: bool = False,
                report_unstored: bool = False) -> CommandResult:
    """Run ``argv`` as a run. ``report_unstored``: a run that cannot be committed is not
    warned of: the caller reports ``CommandResult.unstored`` (``gitlog run``: an error)."""
    if not argv:
        raise GitlogError("no command to run", hint="gitlog run -e NAME -- python train.py")
    if shutil.which(_in(cwd, argv[0])) is None:
        raise _not_runnable(argv, cwd)
    missing = _missing_interpreter(argv, cwd)
    if missing is not None:
        raise missing
    if system_metrics:
        from .sysmetrics import _psutil

        _psutil()
    run = open_run(repo, experiment, message=message, command=shlex.join(argv),
                   script=command_script(argv), cwd=cwd)
    if params:
        run.log_params(params)
    child_env = dict(os.environ)
    child_env.update({env.RUN_ID: run.id, env.RUN_JOURNAL: str(run.journal.path),
                      "PYTHONUNBUFFERED": "1"})
    if system_metrics:
        child_env[env.SYSTEM_METRICS] = "1"
    out = stdout or sys.stdout.buffer
    err = stderr or sys.stderr.buffer
    budget = [int(run.config["capture"]["max_lines"])]
    started = time.monotonic()
    in_main = threading.current_thread() is threading.main_thread()
    # Ctrl-C is the command's to handle: this process waits for it to stop. A handler,
    # not SIG_IGN: an ignored signal stays ignored in the command, exec resets a handler
    old_int = signal.signal(signal.SIGINT, _wait_for_command) if in_main else None
    forwarder = _Forwarder(run)
    if in_main:
        forwarder.install()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=child_env, cwd=cwd)
    except OSError as exc:
        if old_int is not None:
            signal.signal(signal.SIGINT, old_int)
        forwarder.restore()
        run.error(f"could not start {argv[0]}: {exc}")
        run.finish("failed")
        raise GitlogError(f"could not start {argv[0]}: {exc.strerror or exc}") from None
    forwarder.started(proc)
    if system_metrics:
        from .sysmetrics import start_sampling

        start_sampling(run, pid=proc.pid)
    last_err = [b""]
    pumps = [threading.Thread(target=_pump, args=(s, o, run, n, budget, t), daemon=True)
             for s, o, n, t in ((proc.stdout, out, "stdout", [b""]),
                                (proc.stderr, err, "stderr", last_err))]
    for t in pumps:
        t.start()
    try:
        _, wait_status, usage = os.wait4(proc.pid, 0)
    finally:
        if old_int is not None:
            signal.signal(signal.SIGINT, old_int)
        forwarder.restore()
    code = os.waitstatus_to_exitcode(wait_status)
    proc.returncode = code
    for t in pumps:
        t.join()
    for pipe in (proc.stdout, proc.stderr):  # read to the end: closed, not left to the GC
        if pipe is not None:                  # (a ResourceWarning each)
            pipe.close()
    duration = time.monotonic() - started
    run.journal.append_json("info", {
        "exit_code": code,
        "duration_s": round(duration, 3),
        "cpu_time_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_memory_mb": round(usage.ru_maxrss / 1024, 1),
    })
    if code == 0:
        status = "completed"
    elif code < 0 or code == 130:
        status = "killed"
        run.error(f"command killed by signal {-code}" if code < 0 else "command interrupted")
    else:
        status = "failed"
        # With the last stderr line (a crash's exception), so that event rules on the
        # error (``event: out of memory, level: error``) see what went wrong.
        tail = _shown(last_err[0])
        run.error(f"command exited with code {code}" + (f": {tail}" if tail else ""))
    run._quiet_unstored = report_unstored
    run.finish(status)
    exit_code = code if code >= 0 else 128 - code
    if run.unstored is not None and exit_code == 0:
        exit_code = 1  # the command succeeded, but its run is not logged
    return CommandResult(run, exit_code, run.status, run.unstored)

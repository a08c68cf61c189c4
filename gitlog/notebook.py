"""Runs started from a Jupyter kernel or an interactive interpreter.

A kernel runs as ``python -m ipykernel_launcher -f /.../kernel-XXXX.json``: its
``sys.argv`` names the launcher and a connection file that is gone once the kernel
stops, so neither names the experiment nor runs the code again. Recent Jupyter servers
give the notebook's path in ``JPY_SESSION_NAME`` (ipykernel also sets ``__session__``
in the notebook's namespace).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

LAUNCHERS = ("ipykernel_launcher", "ipykernel")  # the kernel's sys.argv[0] stems


def in_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel."""
    argv0 = sys.argv[0] if sys.argv else ""
    return "ipykernel" in sys.modules or (bool(argv0) and Path(argv0).stem in LAUNCHERS)


def interactive() -> str | None:
    """Where code is typed in, not read from a script: 'jupyter kernel', 'ipython' or
    'python prompt' (``sys.ps1``); None in a script (one that imports IPython too)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if in_kernel():
        return "jupyter kernel"
    if argv0 and Path(argv0).stem == "ipython" and "IPython" in sys.modules:
        return "ipython"
    return "python prompt" if hasattr(sys, "ps1") else None


def launcher_command(argv: list[str]) -> bool:
    """Whether a recorded command line starts a kernel (``python -m ipykernel_launcher
    -f kernel.json``, as runs from a notebook recorded it), not the notebook's code."""
    return any(Path(word).stem in LAUNCHERS for word in argv[1:3])


def notebook_path() -> str | None:
    """The notebook's path as the Jupyter server gave it; None when not known."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name:
        main = sys.modules.get("__main__")
        name = getattr(main, "__session__", None)
    return str(name) if isinstance(name, str) and name.strip() else None


def notebook_in(root: Path) -> str | None:
    """The notebook's path relative to ``root`` when it is inside, else as given."""
    path = notebook_path()
    if path is None or not os.path.isabs(path):
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except (OSError, ValueError):
        return path


def finish_earlier(run: Any) -> None:
    """A re-run cell (``run = gitlog.start("x")`` executed again) in a kernel or at a
    prompt: the run the earlier execution left open, of the same experiment, that this
    thread started from code that has finished running, is finished (completed) with a
    warning. It was left open for the kernel's lifetime, hours, with no word; its object
    is usually gone (``run`` names the new one). Scripts are left alone: a function may
    return a run for its caller to log into."""
    import threading
    import warnings

    from .liveruns import _ACTIVE, _ACTIVE_LOCK
    from .recorder import GitlogWarning
    from .threadexit import _inside

    if interactive() is None or threading.current_thread() is not threading.main_thread():
        return
    me = threading.current_thread()
    with _ACTIVE_LOCK:
        earlier = [r for r in _ACTIVE if r is not run and r._pid == os.getpid()
                   and r._thread == me.ident and r.experiment == run.experiment
                   and not (r._finished or r._finishing) and r._started_in is not None
                   and not _inside(me, r._started_in)]
    cell = "input" if interactive() == "python prompt" else "cell"
    for old in earlier:
        old.finish("completed")
        where = f", commit {old.commit[:10]}" if old.commit else ""
        warnings.warn(f"gitlog: run {old.id} of {old.experiment!r} was still open from "
                      f"an earlier {cell}: finished it (completed{where}); "
                      "end a run with run.finish() or a 'with' block", GitlogWarning,
                      stacklevel=3)

"""A serving process forked while its monitor's thread commits a window (a pre-forking
server starting a worker just then)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from tests.conftest import git, run_python

# A slow import (a cold disk, a network file system): the monitor's thread imports the
# alerts' delivery module the first time it commits a window, after it lists the commit.
SLOW_IMPORT = """
import importlib.abc, sys, threading, time
importing = threading.Event()
class Slow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "gitlog.alerts.delivery" and not importing.is_set():
            importing.set()
            time.sleep(1.0)
        return None
sys.meta_path.insert(0, Slow())
"""


def test_a_fork_during_a_window_s_commit_gives_a_worker_that_commits_its_own(
        repo: Path) -> None:
    """The child inherited the import lock of a module the parent's monitor thread was
    importing, held by a thread the child does not have, and hung for good when it
    imported that module to commit its own window (its parent then waited forever). A
    fork now waits for the window being committed."""
    script = SLOW_IMPORT + textwrap.dedent("""
        import os, gitlog
        mon = gitlog.monitor("churn", window=1, system=False)
        mon.record(0.001)
        assert importing.wait(60)  # the monitor's thread is committing the first window
        pid = os.fork()
        if pid == 0:
            mon.record(0.002)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    try:
        proc = run_python(script, repo, timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("the forked worker hung") from None
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
    windows = git(repo, "log", "--format=%s", "deploy/churn").splitlines()
    assert sorted(w.split(", ")[1] for w in windows if "requests" in w) == \
        ["1 requests", "1 requests"]


def test_a_child_sent_sigterm_as_it_starts_dies_of_it(repo: Path) -> None:
    """A child holds gitlog's handler from the fork until it gets the default actions
    back; a SIGTERM arriving before it first ran (a pool's terminate while a worker still
    starts, on a busy machine) was dropped by Python's after-fork reset of pending
    signals: the worker lived on, and Pool.terminate waited for it forever."""
    script = textwrap.dedent("""
        import os, signal, time, gitlog
        def fork_and_term():
            pid = os.fork()
            if pid == 0:
                time.sleep(3)
                os._exit(0)
            os.kill(pid, signal.SIGTERM)  # (the child has most likely not run yet)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        codes = [fork_and_term() for _ in range(3)]  # gitlog imported
        mon = gitlog.monitor("churn", window=1e9, system=False)
        codes += [fork_and_term() for _ in range(3)]  # and a monitor open
        mon.close()
        print(codes)
    """)
    proc = run_python(script, repo, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[-15, -15, -15, -15, -15, -15]"


def test_a_window_closed_within_its_second_shows_milliseconds() -> None:
    """A window flush() closed within the second it opened read '12:25:04-12:25:04 UTC'
    (the demo's, one request batch a window)."""
    from types import SimpleNamespace

    from gitlog.deploystore import subject

    start = 1_700_000_000.120  # 2023-11-14 22:13:20.120 UTC
    window = SimpleNamespace(start=start, requests=300, errors=15)
    assert subject("churn", window, start + 0.75, {"latency_ms/p99": 0.357}) == \
        "churn: 22:13:20.120-22:13:20.870 UTC, 300 requests, 15 errors, p99 0.357 ms"
    assert subject("churn", window, 1_700_000_300.0, {}) == \
        "churn: 22:13:20-22:18:20 UTC, 300 requests, 15 errors"

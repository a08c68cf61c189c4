"""One long-lived process starting many runs (a sweep, a service, a notebook kernel):
nothing gitlog installs per run may pile up, and each run gets its own logging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_python

OUT_OF_ORDER = """
import gc, sys, weakref, gitlog
original = sys.excepthook
kept = []
for i in range(20):  # runs that do not end in the reverse order they started
    first = gitlog.start("sweep", params={"i": i})
    second = gitlog.start("sweep", params={"i": i})
    first.finish()
    second.finish()
    kept += [weakref.ref(first), weakref.ref(second)]
    del first, second
gc.collect()
print(sys.excepthook is original, sum(ref() is not None for ref in kept))
last = gitlog.start("sweep", params={"i": "last"})
raise ValueError("after the sweep")
"""


def test_runs_ending_out_of_order_leave_no_hook_behind(repo: Path) -> None:
    # Each such pair left a finished run's sys.excepthook in the chain (20 runs, their
    # buffers and journals, kept alive; the chain one deeper per pair).
    done = run_python(OUT_OF_ORDER, cwd=repo)
    assert done.returncode == 1
    assert done.stdout == "True 0\n"
    assert done.stderr.count("ValueError: after the sweep") == 1
    runs = git(repo, "rev-list", "--count", "exp/sweep").strip()
    assert runs == str(1 + 41)  # the initial commit, 40 sweep runs and the last one
    last = git(repo, "show", "exp/sweep:.gitlog/run.yaml")
    assert "status: failed" in last and "exit_code: 1" in last


THREAD_POOL = """
import logging, threading, gitlog
from concurrent.futures import ThreadPoolExecutor
logging.getLogger().addHandler(gitlog.LoggingHandler())
logging.getLogger().setLevel(logging.INFO)
all_started = threading.Barrier(4)

def trial(lr):
    with gitlog.start("pool", params={"lr": lr}):
        all_started.wait(timeout=60)  # the four runs are live at once
        for step in range(3):
            gitlog.log_metric("lr_seen", lr, step=step)
            logging.info("trial lr=%s", lr)
        all_started.wait(timeout=60)  # none finishes before the others logged

with ThreadPoolExecutor(4) as pool:
    list(pool.map(trial, [1, 2, 3, 4]))
print(threading.active_count())
"""


def test_thread_pool_sweep_logs_each_trial_into_its_own_run(repo: Path) -> None:
    # Module-level calls and the LoggingHandler went to the run started last, whatever
    # the thread: one trial's run held another's points, others none.
    done = run_python(THREAD_POOL, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"  # no recorder or other gitlog thread outlives its run
    seen = {}
    for sha in git(repo, "rev-list", "exp/pool", "--", ".gitlog/run.yaml").split():
        lr = git(repo, "show", f"{sha}:.gitlog/params.yaml").strip()
        rows = git(repo, "show", f"{sha}:.gitlog/metrics/lr_seen.tsv").splitlines()[1:]
        events = git(repo, "show", f"{sha}:.gitlog/events.jsonl")
        seen[lr] = ([row.split("\t")[2] for row in rows], events.count("trial lr="),
                    events.count(f"trial lr={lr.split()[-1]}"))
    assert seen == {f"lr: {n}": ([str(n)] * 3, 3, 3) for n in (1, 2, 3, 4)}



ALERTS_YAML = """alerts:
  notifiers:
    slow: {type: command, argv: [sh, -c, "while [ ! -e released ]; do sleep 0.05; done"],
           timeout: 20, retries: 0}
  rules:
    - {name: oom, event: "out of memory", notify: [slow]}
"""

TWO_RUNS_ONE_ALERT = """
import pathlib, gitlog
from gitlog.alerts.delivery import DISPATCHER
quiet = gitlog.start("quiet")
loud = gitlog.start("loud")
loud.error("out of memory")
loud.flush()  # the rule fires: its delivery waits until 'released' exists
quiet.finish()  # waited for loud's delivery (20 s, then it was killed as failed)
print(DISPATCHER.pending())
pathlib.Path("released").touch()
loud.finish()
print(DISPATCHER.pending())
"""


def test_a_run_finish_does_not_wait_for_another_runs_alerts(repo: Path) -> None:
    (repo / ".gitlog.yaml").write_text(ALERTS_YAML)
    git(repo, "add", ".gitlog.yaml")
    git(repo, "commit", "-q", "-m", "alerts")
    done = run_python(TWO_RUNS_ONE_ALERT, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n0\n"
    assert "not delivered" not in done.stderr
    events = git(repo, "show", "exp/loud:.gitlog/events.jsonl")
    assert "alert oom: error event matched 'out of memory'" in events


SWEEP_ON_ONE_COMMIT = """
import gitlog, gitlog.store
gitlog.store.RECENT_RUNS = 3  # (64 in use: the sweep would need 70 runs to pass it)
for lr in range(10):
    with gitlog.start("grid", params={"lr": lr}) as run:
        run.log_metric("loss", 1 / (lr + 1))
"""


def test_a_sweep_on_one_code_commit_does_not_walk_the_branch_each_run(repo: Path,
                                                                     tmp_path: Path) -> None:
    # Past RECENT_RUNS runs, each run asked 'git merge-base --is-ancestor', which walks
    # the whole branch: the time of a run grew with the number of runs before it.
    trace = tmp_path / "git-trace.log"
    done = run_python(SWEEP_ON_ONE_COMMIT, cwd=repo, env={"GIT_TRACE": str(trace)})
    assert done.returncode == 0, done.stderr
    assert "merge-base" not in trace.read_text()
    code = git(repo, "rev-parse", "main").strip()
    # the code commit is still the first run's second parent, and only its
    assert git(repo, "rev-list", "--count", "--parents", "exp/grid").strip() == "11"
    assert git(repo, "log", "--format=%P", "exp/grid").split().count(code) == 1
    assert git(repo, "merge-base", "--is-ancestor", code, "exp/grid") == ""


POOL_AT_EXIT = """
import threading, time, gitlog
from concurrent.futures import ThreadPoolExecutor
started = threading.Semaphore(0)

def trial(lr):
    with gitlog.start("pool", params={"lr": lr}) as run:
        started.release()
        for step in range(5):
            run.log_metric("loss", lr + step / 10, step=step)
            time.sleep(0.05)
    print("trial", lr, run.status, flush=True)

def left_open():
    gitlog.start("left")  # a job that returns with its run open: finished at exit

pool = ThreadPoolExecutor(2)  # no 'with', no shutdown(): Python waits for it at exit
pool.submit(left_open).result()
for lr in (1, 2, 3):
    pool.submit(trial, lr)
started.acquire()
started.acquire()
print("main ends", flush=True)
"""


def test_the_main_thread_ending_leaves_pool_trials_to_finish_their_runs(repo: Path) -> None:
    # The exit hook finished the trials' runs under them: committed 'completed' with the
    # points logged so far, the next log_metric raised RunStateError in the worker (kept
    # silent by the pool's futures).
    done = run_python(POOL_AT_EXIT, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "RunStateError" not in done.stderr
    assert done.stdout.splitlines()[0] == "main ends"
    assert sorted(done.stdout.splitlines()[1:]) == [f"trial {n} completed" for n in (1, 2, 3)]
    counts = {}
    for sha in git(repo, "rev-list", "exp/pool", "--", ".gitlog/run.yaml").split():
        lr = git(repo, "show", f"{sha}:.gitlog/params.yaml").strip()
        counts[lr] = len(git(repo, "show", f"{sha}:.gitlog/metrics/loss.tsv").splitlines())
    assert counts == {"lr: 1": 6, "lr: 2": 6, "lr: 3": 6}  # the header and 5 points
    assert "status: completed" in git(repo, "show", "exp/left:.gitlog/run.yaml")
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())



AFTER_MAIN = """
import sys, threading, time, gitlog
if sys.argv[1] == "run-first":  # (Python's thread pools loaded and registered by then)
    with gitlog.start("first") as run:
        run.log_metric("loss", 1.0)

def after_main(experiment, finish):
    while threading.main_thread().is_alive():
        time.sleep(0.01)
    run = gitlog.start(experiment)
    for step in range(10_000):  # a series large enough for the commit's worker threads
        run.log_metric("loss", 1 / (step + 1))
    if finish:
        print("finished", run.finish() is not None, flush=True)

threading.Thread(target=after_main, args=("late", True)).start()
threading.Thread(target=after_main, args=("open", False)).start()
"""


@pytest.mark.parametrize("first", ["run-first", "none-first"])
def test_a_run_a_thread_starts_after_the_main_thread_ended_is_committed(
        repo: Path, first: str) -> None:
    # start() raised "can't register atexit after shutdown" (its journal left behind);
    # after a run of the main thread's, the commit raised "cannot schedule new futures
    # after interpreter shutdown", and a run left open was never finished
    done = subprocess.run([sys.executable, "-c", AFTER_MAIN, first], cwd=repo,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "finished True\n"
    assert done.stderr == ""
    for experiment in ("late", "open"):
        assert json.loads(git(repo, "show", f"exp/{experiment}:.gitlog/metrics.json")) == \
            {"loss": 1 / 10_000, "step": 9_999}
        run_yaml = git(repo, "show", f"exp/{experiment}:.gitlog/run.yaml")
        assert "status: completed" in run_yaml
        series = git(repo, "show", f"exp/{experiment}:.gitlog/metrics/loss.tsv")
        assert len(series.splitlines()) == 10_001  # the header and every point
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())

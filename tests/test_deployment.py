"""Deployment logs: gitlog.monitor() in a serving process commits one run a window onto
deploy/MODEL, which history, logs, compare, alerts and DVC read like any run."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gitlog
import gitlog.deployment  # the tests patch its limits; the package loads it lazily
from gitlog.errors import GitlogError
from gitlog.project import init_project
from tests.conftest import git, run_cli, run_python, state_of
from tests.servers import http_receiver

FOREVER = 1e9  # a window no test outlives: only flush() and close() end one


def open_monitor(repo: Path, **kwargs: Any) -> gitlog.Monitor:
    return gitlog.monitor("churn", repo=repo, window=FOREVER, system=False, **kwargs)


def shown(repo: Path, path: str, rev: str = "deploy/churn") -> str:
    return git(repo, "show", f"{rev}:.gitlog/{path}")


def events_of(repo: Path, rev: str = "deploy/churn") -> list[dict[str, Any]]:
    return [json.loads(line) for line in shown(repo, "events.jsonl", rev).splitlines()]


def test_a_window_is_a_run_commit_on_the_deploy_branch_with_exact_latency_figures(
        repo: Path) -> None:
    before = state_of(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    mon = open_monitor(repo, version="v1.3")
    for ms in range(1, 10):
        mon.record(ms / 1000)
    mon.record(np.float32(0.01))  # a numpy scalar is a number of seconds too
    mon.record(0.05, error="timeout upstream", inputs={"id": 7})
    commit = mon.flush()
    assert commit == git(repo, "rev-parse", "deploy/churn").strip()
    assert mon.commits == [commit] and mon.branch == "deploy/churn"
    metrics = json.loads(shown(repo, "metrics.json"))
    assert metrics.pop("requests_per_s") > 0
    # sorted latencies 1..10, 50 ms: percentiles interpolate between ranks, as numpy's
    assert metrics == {"requests": 11, "errors": 1, "error_rate": 0.090909, "step": 0,
                       "latency_ms": {"mean": 9.545, "p50": 6.0, "p90": 10.0, "p99": 46.0,
                                      "max": 50.0}}
    params = gitlog.show(f"{commit}", repo=repo).record.params
    assert params["model"] == {"name": "churn", "version": "v1.3"}
    assert params["window_s"] == FOREVER and params["worker"]["pid"] > 0
    run = gitlog.show(commit, repo=repo).record.run
    assert (run["experiment"], run["status"], run["code_commit"]) == \
        ("deploy/churn", "completed", head)
    [event] = events_of(repo)
    assert (event["level"], event["message"], event["step"]) == ("error", "timeout upstream", 0)
    assert event["fields"] == {"latency_ms": 50.0, "inputs": "{'id': 7}"}
    assert git(repo, "log", "-1", "--format=%s", "deploy/churn").startswith("churn: ")
    # the code the service runs is the window's tree, as a run's
    assert git(repo, "show", "deploy/churn:train.py") == "print('train')\n"
    assert mon.close() is None  # nothing since the flush: no empty window is committed
    assert git(repo, "rev-list", "--count", "deploy/churn").strip() == "2"
    assert state_of(repo) == before  # HEAD, index and working tree untouched
    # ls and history show experiments: with none, they name the deployment branch
    listed = run_cli("ls", cwd=repo)
    assert (listed.returncode, listed.stdout) == (0, "")
    assert listed.stderr.splitlines()[1] == \
        "deployment windows: deploy/churn (gitlog history --metric requests deploy/churn)"
    out = run_cli("history", "--metric", "requests", cwd=repo)
    assert out.returncode == 1
    assert "hint: deployment windows are on deploy/churn: name it, e.g. gitlog history " \
        "--metric requests deploy/churn" in out.stderr


def test_requests_that_raise_or_fail_are_errors_with_a_few_samples(repo: Path) -> None:
    mon = open_monitor(repo, error_samples=2)
    for i in range(5):
        with pytest.raises(KeyError), mon.request({"x": i}):
            raise KeyError(f"k{i}")
    with mon.request("q") as req:
        req.fail("answer out of range")
    with mon.request():
        pass
    mon.close()
    metrics = json.loads(shown(repo, "metrics.json"))
    assert (metrics["requests"], metrics["errors"], metrics["error_rate"]) == (7, 6, 0.857143)
    events = events_of(repo)
    assert [(e["level"], e["message"]) for e in events] == [
        ("error", "KeyError: 'k0'"), ("error", "KeyError: 'k1'"),
        ("warning", "4 more errors in the window were not sampled")]
    assert events[0]["fields"]["inputs"] == "{'x': 0}"
    assert events[0]["fields"]["error_type"] == "KeyError"
    assert 'raise KeyError(f"k{i}")' in events[0]["fields"]["traceback"]
    out = run_cli("logs", "deploy/churn", "--level", "error", "--format", "json", cwd=repo)
    assert [e["message"] for e in json.loads(out.stdout)] == ["KeyError: 'k0'",
                                                               "KeyError: 'k1'"]


def test_windows_name_the_model_served_and_history_traces_them(repo: Path) -> None:
    with gitlog.start("baseline", repo=repo) as run:
        run.log_metric("acc", 0.9)
    mon = gitlog.monitor("churn", repo=repo, version="baseline", window=FOREVER,
                         system=False)
    for value in (0.2, 0.4, 0.9):
        mon.observe("prediction", value)
        mon.record(0.010)
    mon.log("warning", "fell back to the cached model", reason="timeout")
    first = mon.flush()
    mon.record(0.030)
    second = mon.flush()
    mon.close()
    model = gitlog.show(first, repo=repo).record.params["model"]
    assert model == {"name": "churn", "version": "baseline", "experiment": "baseline",
                     "commit": git(repo, "rev-parse", "exp/baseline").strip(),
                     "run": run.id}
    metrics = json.loads(shown(repo, "metrics.json", first))
    assert metrics["prediction"] == {"count": 3, "mean": 0.5, "min": 0.2, "max": 0.9}
    assert [(e["level"], e["message"], e["fields"]) for e in events_of(repo, first)] == [
        ("warning", "fell back to the cached model", {"reason": "timeout"})]
    out = run_cli("history", "--metric", "latency_ms/p99", "deploy/churn", "--format", "json",
                  cwd=repo)
    rows = json.loads(out.stdout)
    assert [(r["commit"], r["experiment"], r["latency_ms/p99"]) for r in rows] == [
        (first[:10], "deploy/churn", 10.0), (second[:10], "deploy/churn", 30.0)]
    assert (rows[1]["latency_ms/p99_delta"], rows[1]["latency_ms/p99_verdict"]) == \
        (20.0, "worse")  # latency is lower-is-better by its name


@pytest.mark.parametrize("call, problem", [
    (lambda r: gitlog.monitor("bad name", repo=r), "model"),
    (lambda r: gitlog.monitor("churn", repo=r, window=0), "window must be"),
    (lambda r: gitlog.monitor("churn", repo=r, error_samples=-1), "error_samples"),
    (lambda r: gitlog.monitor("churn", repo=r, version=3), "version must be a non-empty"),
    (lambda r: gitlog.monitor("churn", repo=r, version=" "), "got an empty string"),
    (lambda r: open_monitor(r).track("not a function"), "decorates a function"),
    (lambda r: gitlog.monitor("churn", repo=r, system="no"),  # (was taken as True)
     r"^system must be True, False or None, got 'no'\n"),
    (lambda r: open_monitor(r).record(-1.0), "latency must be"),
    (lambda r: open_monitor(r).record("fast"), "latency must be"),
    (lambda r: open_monitor(r).observe("drift", float("nan")), "observed drift is nan"),
    (lambda r: open_monitor(r).observe("drift", "high"), "not a number"),
    (lambda r: open_monitor(r).observe("../x", 1.0), "metric"),
    # (its latency_ms/mean and /max replaced the requests' own, silently)
    (lambda r: open_monitor(r).observe("latency_ms", 5.0),
     r"^cannot observe latency_ms: the window has a metric of that name itself\n"),
    (lambda r: open_monitor(r).observe("requests", 5.0), "cannot observe requests"),
    (lambda r: open_monitor(r).log("loud", "x"), "unknown log level"),
])
def test_bad_input_is_one_clear_error_and_commits_nothing(repo: Path, call: Any,
                                                          problem: str) -> None:
    with pytest.raises(GitlogError, match=problem):
        call(repo)
    gitlog.deployment._close_all()
    assert git(repo, "branch", "--list", "deploy/*") == ""


def test_a_closed_monitor_refuses_requests(repo: Path) -> None:
    mon = open_monitor(repo)
    mon.close()
    with pytest.raises(GitlogError, match="monitor of churn is closed"):
        mon.request()


def test_a_branch_named_like_the_deploy_folder_is_refused_at_start(repo: Path) -> None:
    git(repo, "branch", "deploy")
    with pytest.raises(GitlogError, match="branch deploy exists"):
        open_monitor(repo)


def test_the_clock_closes_windows_and_exit_and_forked_workers_commit_theirs(
        repo: Path) -> None:
    # One process: a 1-second window closed by the monitor's thread; then a forked
    # worker (a pre-forking server) logs its own window; both store their last window
    # at exit without close().
    script = textwrap.dedent("""
        import os, sys, time, gitlog
        mon = gitlog.monitor("churn", window=1, system=False)
        mon.record(0.001)
        deadline = time.monotonic() + 60
        while not mon.commits and time.monotonic() < deadline:
            time.sleep(0.05)
        print(len(mon.commits))
        pid = os.fork()
        if pid == 0:
            for _ in range(4):
                mon.record(0.002)
            sys.exit(0)
        os.waitpid(pid, 0)
        for _ in range(2):
            mon.record(0.003)
    """)
    proc = run_python(script, repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"  # the clock closed the first window
    # the window records the command that serves, the code of 'python -c' too
    command = gitlog.show("deploy/churn", repo=repo).record.run["command"]
    assert command.endswith(f"-c {shlex.quote(script)}")
    commits = git(repo, "rev-list", "--reverse", "deploy/churn", "--", ".gitlog").split()
    counts = {}
    for commit in commits:
        pid = gitlog.show(commit, repo=repo).record.params["worker"]["pid"]
        counts[pid] = counts.get(pid, 0) + json.loads(shown(repo, "metrics.json",
                                                            commit))["requests"]
    assert sorted(counts.values()) == [3, 4]  # the parent's 1 + 2, the worker's 4


def test_alert_rules_fire_on_windows_error_rate_and_latency_spikes(repo: Path) -> None:
    with http_receiver() as receiver:
        (repo / ".gitlog.yaml").write_text(textwrap.dedent(f"""
            alerts:
              notifiers:
                hook: {{type: webhook, url: "{receiver.url()}"}}
              rules:
                - {{name: err-rate, metric: error_rate, when: threshold, above: 0.2,
                    notify: [hook]}}
                - {{name: slow, metric: latency_ms/p99, when: spike, factor: 3, window: 3,
                    notify: [hook]}}
                - {{name: slower, metric: latency_ms/mean, when: rise, by: "50%",
                    notify: [hook]}}
        """))
        mon = open_monitor(repo)
        for _ in range(3):  # calm windows
            mon.record(0.010)
            mon.flush()
        mon.record(0.100)  # a slow window with one error in two requests
        mon.record(0.100, error="timeout")
        slow = mon.flush()
        mon.record(0.100, error="timeout")  # each rule fires again in the next window:
        again = mon.flush()  # a rate still too high, p99 still 10x the last 3's median
        mon.close()
    fired = sorted((p["rule"], p["commit"]) for p in receiver.payloads)
    assert fired == sorted([("err-rate", slow), ("slow", slow), ("slower", slow),
                            ("err-rate", again), ("slow", again)])  # (not 'slower': the
    # mean rose from the window before 'slow', not since)
    payload = next(p for p in receiver.payloads if p["rule"] == "slow" and p["commit"] == slow)
    assert (payload["branch"], payload["experiment"], payload["value"]) == \
        ("deploy/churn", "deploy/churn", 100.0)
    recorded = [e["message"] for e in events_of(repo, slow) if e["level"] == "warning"]
    assert recorded == ["alert err-rate: error_rate is 0.5 at step 3, above 0.2",
                        "alert slow: latency_ms/p99 spiked to 100 at step 3: over 3x the "
                        "median 10 of the last 3 steps"]


def test_dvc_reads_the_windows(repo: Path) -> None:
    init_project(repo)  # as gitlog init
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "set up gitlog")
    mon = open_monitor(repo)
    mon.record(0.004)
    mon.close()
    proc = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show", "--json", "-a"],
                          cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    data = out["deploy/churn"]
    data = data[0] if isinstance(data, list) else data
    metrics = data["data"][".gitlog/metrics.json"]["data"]
    assert (metrics["requests"], metrics["latency_ms"]["p99"]) == (1, 4.0)


def test_monitor_overhead_is_timed_in_memory_not_per_request_io(repo: Path) -> None:
    # A request touches no file and no git process: 20,000 requests make no commit
    # until the window ends.
    mon = open_monitor(repo)
    start = git(repo, "for-each-ref").count("\n")
    for _ in range(20_000):
        with mon.request():
            pass
    assert git(repo, "for-each-ref").count("\n") == start
    runs = repo / ".git" / "gitlog" / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # no journal either
    mon.close()
    assert json.loads(shown(repo, "metrics.json"))["requests"] == 20_000


def test_a_window_that_cannot_be_committed_waits_for_recover(repo: Path,
                                                             tmp_path: Path) -> None:
    mon = open_monitor(repo)
    mon.record(0.002)
    mon.flush()
    git(repo, "worktree", "add", "-q", str(tmp_path / "elsewhere"), "deploy/churn")
    mon.record(0.005, error="boom")
    with pytest.warns(gitlog.GitlogWarning, match="checked out in"):
        assert mon.flush() is None
    with mon.request():  # serving goes on
        pass
    git(tmp_path / "elsewhere", "checkout", "-q", "--detach")
    assert run_cli("recover", cwd=repo).returncode == 0
    recovered = json.loads(shown(repo, "metrics.json"))
    assert (recovered["requests"], recovered["errors"]) == (1, 1)
    mon.close()
    assert json.loads(shown(repo, "metrics.json"))["requests"] == 1  # the last window's


def test_track_and_the_with_block_and_a_sampled_busy_window(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlog.deployment, "MAX_KEPT", 50)  # a busy window's sample
    with open_monitor(repo) as mon:
        @mon.track
        def double(x: int) -> int:
            if x < 0:
                raise ValueError("negative")
            return 2 * x

        assert double(3) == 6
        with pytest.raises(ValueError):
            double(-1)
        for ms in range(1, 1001):
            mon.record(ms / 1000)
    metrics = json.loads(shown(repo, "metrics.json"))
    assert (metrics["requests"], metrics["errors"]) == (1002, 1)
    assert metrics["latency_ms"]["max"] == 1000.0  # exact, whatever is sampled
    assert 1.0 <= metrics["latency_ms"]["p50"] <= 1000.0
    [event] = events_of(repo)
    assert (event["message"], event["fields"]["inputs"]) == ("ValueError: negative", "(-1,)")


def test_track_times_coroutines_and_generators_to_their_end_and_counts_their_errors(
        repo: Path) -> None:
    # A plain wrapper timed making the coroutine or generator (microseconds, never an
    # error): an async handler's 50 ms and its exceptions were not seen.
    import asyncio

    mon = open_monitor(repo)

    @mon.track
    async def handler(x: int) -> int:
        await asyncio.sleep(0.05)
        if x < 0:
            raise ValueError("negative")
        return x

    @mon.track
    def stream(n: int) -> Any:
        yield from range(n)
        if n == 2:
            raise RuntimeError("stream broke")

    @mon.track
    async def astream(n: int) -> Any:
        for i in range(n):
            await asyncio.sleep(0.02)
            yield i

    async def serve() -> list[int]:
        assert await handler(1) == 1
        with pytest.raises(ValueError):
            await handler(-1)
        return [i async for i in astream(2)]

    assert asyncio.run(serve()) == [0, 1]
    assert list(stream(3)) == [0, 1, 2]
    with pytest.raises(RuntimeError):
        list(stream(2))
    early = stream(5)
    assert next(early) == 0
    early.close()  # a client that stops reading: a request, not an error
    assert handler.__name__ == "handler" and stream.__name__ == "stream"
    mon.close()
    metrics = json.loads(shown(repo, "metrics.json"))
    assert (metrics["requests"], metrics["errors"]) == (6, 2)
    assert metrics["latency_ms"]["max"] >= 50.0  # the coroutine's sleep is its latency
    assert [e["message"] for e in events_of(repo)] == ["ValueError: negative",
                                                       "RuntimeError: stream broke"]
    assert [e["fields"]["inputs"] for e in events_of(repo)] == ["(-1,)", "(2,)"]


def test_an_exception_whose_text_fails_stays_the_handlers_exception(repo: Path) -> None:
    # str() of the exception raised inside the monitor: that error replaced the
    # handler's own, and the sample's slot stayed empty. A log() field that cannot be
    # made text failed the whole window's commit.
    class Opaque(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    class NoRepr:
        def __repr__(self) -> str:
            raise ValueError("no repr")
        __str__ = __repr__

    mon = open_monitor(repo)
    with pytest.raises(Opaque), mon.request(NoRepr()):
        raise Opaque()
    with mon.request() as req:
        req.fail(Opaque())
    state = {"replica": 1}
    mon.log("info", "reloaded", state=state, handle=NoRepr())
    state["replica"] = 2  # the event keeps the fields as they were when logged
    assert mon.flush() is not None
    events = events_of(repo)
    assert [(e["level"], e["message"]) for e in events] == [
        ("error", "Opaque: <str failed: RuntimeError>"),
        ("error", "Opaque: <str failed: RuntimeError>"),
        ("info", "reloaded")]
    assert events[0]["fields"]["inputs"] == "<repr failed: ValueError>"
    assert events[2]["fields"] == {"state": {"replica": 1},
                                   "handle": "<str failed: ValueError>"}
    assert json.loads(shown(repo, "metrics.json"))["errors"] == 2
    mon.close()


@pytest.mark.parametrize("error", [False, True, 500])
def test_record_refuses_an_error_that_is_not_a_message_or_an_exception(
        repo: Path, error: Any) -> None:
    # record(t, error=False) (or error=status >= 500) counted an error named "False".
    mon = open_monitor(repo)
    with pytest.raises(GitlogError, match=r"error must be a message or an exception, "
                                          rf"got {error!r}") as raised:
        mon.record(0.01, error=error)
    assert raised.value.hint == "pass error=None for a request that succeeded, the " \
        "error's message or exception for one that failed"
    mon.record(0.01, error=None)
    mon.close()
    assert json.loads(shown(repo, "metrics.json"))["errors"] == 0


def test_requests_a_thread_serves_after_the_main_thread_ended_are_counted(
        repo: Path) -> None:
    # The main thread starts a (non-daemon) serving thread and ends: the monitor was
    # closed at once, the thread's next request raised "the monitor of churn is closed"
    # and its requests were lost.
    script = textwrap.dedent("""
        import threading, time, gitlog
        mon = gitlog.monitor("churn", window=1e9, system=False)
        started = threading.Event()

        def serve():
            for i in range(20):
                with mon.request(i):
                    started.set()
                    time.sleep(0.01)

        threading.Thread(target=serve).start()
        started.wait()
    """)
    proc = run_python(script, repo)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert git(repo, "rev-list", "--count", "deploy/churn", "--", ".gitlog").strip() == "1"
    assert json.loads(shown(repo, "metrics.json"))["requests"] == 20


def test_sigterm_commits_the_open_window_then_the_process_dies_of_it(repo: Path) -> None:
    # A server stopped by SIGTERM (docker stop, a Kubernetes rollout, kill) died at once:
    # up to a window of requests (5 minutes by default) was lost at every restart.
    import signal

    script = textwrap.dedent("""
        import time, gitlog
        mon = gitlog.monitor("churn", window=1e9, system=False)
        for ms in (1, 2, 3):
            mon.record(ms / 1000)
        mon.record(0.004, error="timeout")
        print("serving", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=repo, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == "serving\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM  # dies of the signal, as without gitlog
    metrics = json.loads(shown(repo, "metrics.json"))
    assert (metrics["requests"], metrics["errors"], metrics["latency_ms"]["max"]) == \
        (4, 1, 4.0)
    assert git(repo, "rev-list", "--count", "deploy/churn", "--", ".gitlog").strip() == "1"
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())  # nothing to recover


def test_a_window_keeps_its_first_events_and_counts_the_rest(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A log() per request kept every event in memory for the whole window and committed
    # them all: 200,000 requests made 120 MB of memory and a 30 MB events.jsonl.
    monkeypatch.setattr(gitlog.deployment, "MAX_EVENTS", 3)
    mon = open_monitor(repo)
    for i in range(5):
        mon.log("warning", "fell back to the cached model", request=i)
    first = mon.flush()
    mon.log("info", "reloaded")  # each window has its own allowance
    second = mon.flush()
    mon.close()
    assert [(e["level"], e["message"], e["fields"]) for e in events_of(repo, first)] == [
        ("warning", "fell back to the cached model", {"request": 0}),
        ("warning", "fell back to the cached model", {"request": 1}),
        ("warning", "fell back to the cached model", {"request": 2}),
        ("warning", "2 more events logged in the window were not kept",
         {"events": 5, "kept": 3})]
    assert [e["message"] for e in events_of(repo, second)] == ["reloaded"]


def test_a_window_whose_journal_cannot_be_written_says_it_is_lost(repo: Path) -> None:
    # The warning said "Its data is kept in .../runs/ID; run 'gitlog recover'" for a
    # journal that was never written: recover had nothing to commit.
    import re
    import shutil

    mon = open_monitor(repo)
    mon.record(0.002)
    mon.flush()
    runs = repo / ".git" / "gitlog" / "runs"
    shutil.rmtree(runs)
    runs.write_text("")  # the journals' folder cannot be made
    mon.record(0.003, error="boom")
    with pytest.warns(gitlog.GitlogWarning) as warned:
        assert mon.flush() is None
    [text] = [str(w.message) for w in warned]
    assert "Its data is kept" not in text
    assert re.search(r"\. It is lost \(1 requests, 1 errors\): its journal could not be "
                     rf"written in {re.escape(str(runs))}$", text), text
    runs.unlink()
    with mon.request():  # serving goes on, and the next window is stored
        pass
    assert mon.close() is not None


@pytest.mark.parametrize("elsewhere", [False, True])
def test_a_deploy_branch_checked_out_is_refused_with_the_worktree_to_switch(
        repo: Path, tmp_path: Path, elsewhere: bool) -> None:
    # The runs' message said "checked out in another worktree, <this one>" and hinted
    # "run it in that worktree, where its logs land in the working tree": a monitor
    # started there was refused the same way.
    git(repo, "branch", "deploy/churn")
    if elsewhere:
        folder = tmp_path / "serving"
        git(repo, "worktree", "add", "-q", str(folder), "deploy/churn")
        where, switch = f"the worktree {folder}", f"there (git -C {folder} checkout --detach)"
    else:
        git(repo, "checkout", "-q", "deploy/churn")
        where, switch = "this worktree", "here (git checkout --detach)"
    with pytest.raises(GitlogError) as raised:
        open_monitor(repo)
    assert str(raised.value) == f"cannot log deployment windows onto deploy/churn: it is " \
        f"checked out in {where} (a window would leave the files and index there behind " \
        "deploy/churn)"
    assert raised.value.hint == f"check out another branch {switch}: windows are " \
        "committed onto the branch, never into a working tree"


def test_pool_workers_commit_their_requests_at_their_end_and_terminate_never_hangs(
        repo: Path) -> None:
    # A pool's workers log their own windows, committed when they end normally (close,
    # join). `with Pool()` ends them with SIGTERM instead: gitlog's handler, inherited,
    # now and then never ran in a worker blocked on the task queue, which never died:
    # the parent waited forever (1 run in 40). A forked child dies of it at once again:
    # those workers' open windows are lost, the parent's is kept.
    script = textwrap.dedent("""
        import multiprocessing, gitlog
        mon = gitlog.monitor("churn", window=1e9, system=False)

        @mon.track
        def predict(x):
            return 2 * x

        mon.record(0.001)
        pool = multiprocessing.get_context("fork").Pool(2)
        print(sum(pool.map(predict, range(40), chunksize=1)))
        pool.close()
        pool.join()
        for _ in range(10):
            with multiprocessing.get_context("fork").Pool(2) as pool:
                pool.map(predict, range(8), chunksize=1)
    """)
    proc = run_python(script, repo, timeout=300)
    assert (proc.returncode, proc.stdout) == (0, "1560\n"), proc.stderr
    commits = git(repo, "rev-list", "deploy/churn", "--", ".gitlog").split()
    counts = sorted(json.loads(shown(repo, "metrics.json", c))["requests"] for c in commits)
    assert sum(counts) == 41  # 40 by the closed pool's workers, 1 by the parent


def test_a_second_monitor_of_a_model_in_one_process_is_refused(repo: Path) -> None:
    # Two monitors of one model split its requests: each committed its own window a
    # period (both step 0, 1, ...), each with half the requests and half the rate.
    first = open_monitor(repo)
    with pytest.raises(GitlogError) as raised:
        gitlog.monitor("churn", repo=repo / ".", window=60, system=False)
    assert str(raised.value) == "a monitor of churn is open in this process already " \
        "(logging to deploy/churn)"
    assert raised.value.hint == "use the monitor the first gitlog.monitor() returned, or " \
        "close() it before opening another"
    other = gitlog.monitor("fraud", repo=repo, window=FOREVER, system=False)  # another model
    first.record(0.001)
    first.close()
    again = open_monitor(repo)  # once closed, a new one may start
    again.record(0.002)
    again.close()
    other.close()
    assert [json.loads(shown(repo, "metrics.json", rev))["requests"]
            for rev in ("deploy/churn~1", "deploy/churn")] == [1, 1]


def test_a_sigterm_during_a_flush_waits_for_its_commit_then_kills(repo: Path) -> None:
    # A SIGTERM that arrived while the main thread committed a window (flush, close)
    # killed that commit halfway. git's reference-transaction hook sends it right in the
    # middle of the window's commit (its update-ref).
    import signal

    hook = repo / ".git" / "hooks" / "reference-transaction"
    hook.write_text('#!/bin/sh\n[ "$1" = committed ] && [ -n "$KILL_PID" ] && '
                    'kill -TERM "$KILL_PID"\nexit 0\n')
    hook.chmod(0o755)
    script = textwrap.dedent("""
        import os, time, gitlog
        mon = gitlog.monitor("churn", window=1e9, system=False)
        mon.record(0.001)
        os.environ["KILL_PID"] = str(os.getpid())
        commit = mon.flush()  # the hook's SIGTERM comes in here
        print("flushed", commit is not None, flush=True)
        time.sleep(60)
    """)
    proc = run_python(script, repo)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert proc.stdout == ""  # it died once the commit was done, before going on
    assert git(repo, "rev-list", "--count", "deploy/churn", "--", ".gitlog").strip() == "1"
    assert json.loads(shown(repo, "metrics.json"))["requests"] == 1
    assert not list((repo / ".git" / "gitlog" / "runs").iterdir())


def test_track_with_parentheses_and_requests_ended_by_no_failure_of_theirs(
        repo: Path) -> None:
    import asyncio

    mon = open_monitor(repo)

    @mon.track()
    def answer(x: int) -> int:
        return x

    async def cancelled() -> None:
        with mon.request():
            await asyncio.sleep(60)

    async def client_goes_away() -> None:
        task = asyncio.ensure_future(cancelled())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert answer(2) == 2
    asyncio.run(client_goes_away())  # a request the client cancelled: not an error
    with pytest.raises(KeyboardInterrupt), mon.request():
        raise KeyboardInterrupt  # Ctrl-C while serving: no error of the service
    mon.close()
    metrics = json.loads(shown(repo, "metrics.json"))
    assert (metrics["requests"], metrics["errors"]) == (3, 0)  # served, not failed


def test_percentiles_are_the_same_without_numpy(repo: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # numpy computes them when installed (fast); the standard library otherwise
    from array import array

    from gitlog.deploystore import percentiles

    latencies = array("d", [ms / 1000 for ms in (*range(1, 11), 50)])
    with_numpy = [round(v * 1000, 3) for v in percentiles(latencies)]
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy fails
    without = [round(v * 1000, 3) for v in percentiles(latencies)]
    assert with_numpy == without == [6.0, 10.0, 46.0]
    assert percentiles(array("d", [0.25])) == [0.25, 0.25, 0.25]

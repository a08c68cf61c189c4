"""Deployment logs: ``gitlog.monitor(MODEL)`` in the process that serves a model.

    monitor = gitlog.monitor("churn", version="exp/baseline")

    def predict(features):
        with monitor.request(features):
            return model.predict([features])[0]

Requests are counted and timed in memory (a lock, an append); every ``window`` seconds
(aligned to the clock: 10:00, 10:05, ...) a background thread sums the window up and
commits it onto ``deploy/MODEL`` as one run (``deploystore``): requests, latency
percentiles, error rate, CPU and memory (GPU where present), the model version served,
and samples of the errors with their inputs. So ``gitlog history --metric
latency_ms/p99 deploy/churn`` shows the service across windows and versions, and the
alert rules of ``.gitlog.yaml`` fire on error rates, latency spikes and error messages.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .deployevents import error_event, event_of, frozen, number
from .errors import GitlogError, NameError_

# Latencies kept a window for its percentiles; past it, a uniform sample of them
# (reservoir sampling): 8 MB, whatever the traffic.
MAX_KEPT = 1_000_000
# log() events kept a window; past it, counted: a log() per request held every one in
# memory (200,000 requests: 120 MB) and committed them (a 30 MB events.jsonl a window).
MAX_EVENTS = 1000
# a window's own metrics (deploystore.summary): observe("latency_ms", t) wrote its
# latency_ms/mean and /max over the requests' figures
_OWN_METRICS = frozenset({"requests", "requests_per_s", "errors", "error_rate",
                          "latency_ms", "step", "system/cpu_percent", "system/memory_mb"})
_OPEN: list[Monitor] = []  # monitors of this process not closed yet: closed at exit
_OPEN_LOCK = threading.Lock()
_ATEXIT = False
_DEFERRED = False  # the last windows wait for the threads still serving


class Window:
    """What a window has seen so far: request latencies (seconds), errors and their first
    samples, events, observed values."""

    __slots__ = ("start", "requests", "total", "slowest", "kept", "errors", "samples",
                 "events", "dropped", "observed")

    def __init__(self, start: float) -> None:
        self.start = start
        self.requests = 0
        self.total = 0.0
        self.slowest = 0.0
        self.kept = array("d")
        self.errors = 0
        self.samples: list[dict[str, Any]] = []  # error events, the first few
        self.events: list[dict[str, Any]] = []  # log() events, the first MAX_EVENTS
        self.dropped = 0  # log() events past those
        self.observed: dict[str, list[float]] = {}  # name -> [count, sum, min, max]

    def add(self, latency: float) -> None:
        self.requests += 1
        self.total += latency
        if latency > self.slowest:
            self.slowest = latency
        if len(self.kept) < MAX_KEPT:
            self.kept.append(latency)
        else:  # each of the window's latencies has the same chance to be kept
            slot = random.randrange(self.requests)
            if slot < MAX_KEPT:
                self.kept[slot] = latency

    def empty(self) -> bool:
        return not (self.requests or self.events or self.dropped or self.observed)


class Request:
    """One request being timed (``Monitor.request``): an exception leaving the block, or
    ``fail()``, makes it an error."""

    __slots__ = ("_monitor", "_start", "inputs", "_failed")

    def __init__(self, monitor: Monitor, inputs: Any) -> None:
        self._monitor = monitor
        self.inputs = inputs
        self._failed: str | BaseException | None = None

    def fail(self, message: str | BaseException) -> None:
        """Count this request as an error (an answer the service refused or got wrong
        without raising), with ``message`` (or an exception) as its sample's message."""
        self._failed = message if isinstance(message, BaseException) else str(message)

    def __enter__(self) -> Request:
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        latency = time.perf_counter() - self._start
        # not the service's failure, a request all the same: a stream the client stopped
        # reading (GeneratorExit), a client gone (asyncio's CancelledError), the process
        # ending (KeyboardInterrupt, SystemExit)
        error = exc if isinstance(exc, Exception) else self._failed
        if error is None:
            monitor = self._monitor
            with monitor._lock:
                monitor._window.add(latency)
        else:
            self._monitor._failed(latency, error, self.inputs)


class Monitor:
    """A served model's deployment log (``gitlog.monitor``). Thread-safe; one per model
    and process."""

    def __init__(self, store: Any, model: str, window: float, error_samples: int) -> None:
        self.model = model
        self.window = window
        self.error_samples = error_samples
        self._store = store  # deploystore.WindowStore: turns a window into a commit
        self.pid = os.getpid()  # the process whose windows these are (sigflush)
        self._lock = threading.Lock()
        self._window = Window(time.time())
        self._closed = False
        self._wake = threading.Event()
        self._committing = threading.Lock()  # one window committed at a time
        self._thread = threading.Thread(target=self._loop, name=f"gitlog-monitor-{model}",
                                        daemon=True)
        self._thread.start()

    @property
    def branch(self) -> str:
        """The branch the windows are committed to (``deploy/MODEL``)."""
        return self._store.branch.removeprefix("refs/heads/")

    @property
    def commits(self) -> list[str]:
        """The commits of the windows this monitor stored, oldest first."""
        return list(self._store.commits)

    def __repr__(self) -> str:
        return f"<gitlog.Monitor {self.model} -> {self.branch}>"

    # -- recording (any thread) ---------------------------------------------------------
    def request(self, inputs: Any = None) -> Request:
        """A context manager that times one request; ``inputs`` are kept (as their repr)
        only in the sample of a request that fails."""
        self._check_open()
        return Request(self, inputs)

    def track(self, fn: Callable[..., Any] | None = None) -> Any:
        """Decorator (``@monitor.track`` or ``@monitor.track()``): each call of ``fn`` is
        a request (its arguments the inputs of an error sample). A coroutine function's
        request lasts until its result (the ``await``); a generator's, until its last
        item."""
        from .deploytrack import tracked

        if fn is None:
            return lambda f: tracked(self, f)
        if not callable(fn):
            raise GitlogError(f"monitor.track decorates a function, got {fn!r}",
                              hint="@monitor.track above a def")
        return tracked(self, fn)

    def record(self, latency: float, *, error: str | BaseException | None = None,
               inputs: Any = None) -> None:
        """A request timed by the caller: ``latency`` in seconds; ``error`` (a message or
        an exception) makes it an error."""
        self._check_open()
        if not isinstance(latency, (int, float)) and hasattr(latency, "__float__"):
            latency = float(latency)  # a numpy or torch scalar
        if isinstance(latency, bool) or not isinstance(latency, (int, float)) or \
                not math.isfinite(latency) or latency < 0:
            raise GitlogError(f"latency must be a finite number of seconds >= 0, got "
                              f"{latency!r}", hint="pass the request's duration in seconds, "
                                                   "e.g. time.perf_counter() differences")
        if error is None:
            with self._lock:
                self._window.add(float(latency))
        elif isinstance(error, (str, BaseException)):
            self._failed(float(latency), error, inputs)
        else:  # (error=False was an error "False", error=status >= 500 every request)
            raise GitlogError(f"error must be a message or an exception, got {error!r}",
                              hint="pass error=None for a request that succeeded, the "
                                   "error's message or exception for one that failed")

    def observe(self, name: str, value: float) -> None:
        """A value to follow across windows (a prediction, a drift score): each window
        stores ``NAME/mean``, ``NAME/min``, ``NAME/max`` and ``NAME/count``."""
        self._check_open()
        from .names import check_metric

        check_metric(name)
        if name in _OWN_METRICS:
            raise GitlogError(f"cannot observe {name}: the window has a metric of that name "
                              "itself", hint=f"name the value differently, e.g. model_{name}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = number(name, value)
        value = float(value)
        if not math.isfinite(value):
            raise GitlogError(f"observed {name} is {value!r}",
                              hint="observe finite numbers; count bad values with log()")
        with self._lock:
            seen = self._window.observed.get(name)
            if seen is None:
                self._window.observed[name] = [1, value, value, value]
            else:
                seen[0] += 1
                seen[1] += value
                if value < seen[2]:
                    seen[2] = value
                if value > seen[3]:
                    seen[3] = value

    def log(self, level: str, message: str, /, **fields: Any) -> None:
        """An event of the window (``gitlog logs deploy/MODEL`` shows it): a reload, a
        fallback, a warning from the model."""
        self._check_open()
        from .config import LEVEL_NAMES, level_name

        name = level_name(level)
        if name is None:
            raise GitlogError(f"unknown log level {level!r}", hint=f"use one of {LEVEL_NAMES}")
        if len(self._window.events) >= MAX_EVENTS:  # (not made: it would not be kept)
            with self._lock:
                if len(self._window.events) >= MAX_EVENTS:
                    self._window.dropped += 1
                    return
        event = event_of(name, str(message), frozen(fields))
        with self._lock:
            if len(self._window.events) < MAX_EVENTS:
                self._window.events.append(event)
            else:
                self._window.dropped += 1

    def _failed(self, latency: float, error: str | BaseException, inputs: Any) -> None:
        sample = None
        with self._lock:
            window = self._window
            window.add(latency)
            window.errors += 1
            if len(window.samples) < self.error_samples:
                sample = window.samples  # filled outside the lock (a repr may be slow)
                window.samples.append({})
                slot = len(window.samples) - 1
        if sample is not None:
            sample[slot] = error_event(error, latency, inputs)

    # -- windows ------------------------------------------------------------------------
    def _loop(self) -> None:
        from .sigflush import off_this_thread, on_this_thread

        off_this_thread()  # (only while it waits: its commits start git processes)
        end = _window_end(time.time(), self.window)
        while not self._closed:
            left = end - time.time()
            if left > 0:  # (in steps: a wait has a longest timeout)
                if self._wake.wait(min(left, 3600.0)):
                    return  # closed: close() commits the last window
                continue
            try:
                with on_this_thread():
                    self._rotate(end)
            except Exception as exc:  # the next window is still logged
                _warn(f"could not store a window of {self.model}: {exc}")
            end = _window_end(time.time(), self.window)

    def _rotate(self, end: float) -> str | None:
        with self._committing:
            with self._lock:
                window, self._window = self._window, Window(end)
            if window.empty():
                return None
            return self._store.commit(window, end)

    def flush(self) -> str | None:
        """Commit the window so far now (a new one starts); its commit, or None when it
        saw nothing."""
        self._check_open()
        from .sigflush import held

        with held():  # (a SIGTERM meanwhile waits for this commit, not kills it halfway)
            return self._rotate(time.time())

    def flush_for_exit(self, wait: float = 5.0) -> None:
        """SIGTERM or SIGHUP (``sigflush``'s handler, in the main thread): commit the open
        window, then the process dies of the signal. A lock the interrupted thread holds
        (a request, a flush of its own) is waited for ``wait`` seconds, not forever."""
        if not self._committing.acquire(timeout=wait):
            return
        try:
            if self._closed:  # (its last window was committed meanwhile, in another thread)
                return
            if not self._lock.acquire(timeout=wait):
                return
            try:
                window, self._window = self._window, Window(time.time())
            finally:
                self._lock.release()
            if not window.empty():
                self._store.commit(window, time.time())
        finally:
            self._committing.release()

    def close(self) -> str | None:
        """Commit the last window and stop; the monitor takes no more requests. Called at
        exit for a monitor still open."""
        from .sigflush import held

        if self._closed:
            return None
        with held():  # a SIGTERM meanwhile (Pool.terminate) waits for the last commit
            return self._close()

    def _close(self) -> str | None:
        from .sigflush import release

        self._closed = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        with _OPEN_LOCK:
            if self in _OPEN:
                _OPEN.remove(self)
        try:
            return self._rotate(time.time())
        finally:
            release(self)
            self._store.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _forked(self) -> None:
        """In a child forked from the serving process (a pre-forking server's worker):
        the child logs its own windows from now on, with a thread of its own; the
        requests the parent had seen stay the parent's."""
        self._lock = threading.Lock()
        self._committing = threading.Lock()
        self._wake = threading.Event()
        self._window = Window(time.time())
        self.pid = os.getpid()
        self._store.forked()
        self._thread = threading.Thread(target=self._loop, name=f"gitlog-monitor-{self.model}",
                                        daemon=True)
        self._thread.start()

    def _check_open(self) -> None:
        if self._closed:
            raise GitlogError(f"the monitor of {self.model} is closed",
                              hint="open a new one with gitlog.monitor(...)")


def _window_end(now: float, window: float) -> float:
    """The end of the window ``now`` is in: windows are aligned to the clock (UTC)."""
    return (math.floor(now / window) + 1) * window


def monitor(model: str, *, version: str | None = None, window: float = 300.0,
            repo: str | Path = ".", error_samples: int = 5,
            system: bool | None = None) -> Monitor:
    """Start logging the deployment of ``model`` from this process.

    ``version``: the model version served: a run id, a run commit, an experiment or any
    text (a registry tag); a revision of the repository is resolved to its commit and
    run. ``window``: seconds a window lasts (windows are aligned to the clock).
    ``error_samples``: errors of a window kept with their inputs and traceback.
    ``system``: sample CPU and memory (GPU with ``pynvml``); None: when psutil (the
    ``[monitor]`` extra) is installed.
    """
    from .deploystore import WindowStore
    from .names import ref_component_problem

    if not isinstance(model, str) or not model or ref_component_problem(model):
        problem = ref_component_problem(model) if isinstance(model, str) and model else \
            "empty name" if isinstance(model, str) else "names are strings"
        raise NameError_("model", str(model), problem or "not a branch name",
                         hint="use letters, digits, '-', '_' and '/' (e.g. 'churn')")
    if isinstance(window, bool) or not isinstance(window, (int, float)) or \
            not math.isfinite(window) or window < 1:
        raise GitlogError(f"window must be a number of seconds >= 1, got {window!r}",
                          hint="e.g. window=300 for five-minute windows")
    if isinstance(error_samples, bool) or not isinstance(error_samples, int) or \
            error_samples < 0:
        raise GitlogError(f"error_samples must be a whole number >= 0, got {error_samples!r}",
                          hint="e.g. error_samples=5")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        got = "an empty string" if isinstance(version, str) else type(version).__name__
        raise GitlogError(f"version must be a non-empty string, got {got}",
                          hint="pass a run id, a commit, an experiment or a tag as text, "
                               "or leave it out")
    if system is not None and not isinstance(system, bool):
        raise GitlogError(f"system must be True, False or None, got {system!r}",
                          hint="system=False turns CPU and memory sampling off")
    store = WindowStore(repo, model, version, float(window), system)
    with _OPEN_LOCK:
        open_ = next((m for m in _OPEN if not m._closed and m.pid == os.getpid() and
                      m._store.branch == store.branch and
                      m._store.repo.root == store.repo.root), None)
        if open_ is not None:  # (two split the requests: two windows a period, each half)
            store.close()
            raise GitlogError(f"a monitor of {model} is open in this process already "
                              f"(logging to {open_.branch})",
                              hint="use the monitor the first gitlog.monitor() returned, or "
                                   "close() it before opening another")
        try:  # (before the thread starts: its first window records what is said)
            store.alerts.check_env()
        except BaseException:  # (warnings turned into errors)
            store.close()
            raise
        mon = Monitor(store, model, float(window), error_samples)
        _OPEN.append(mon)
    from .sigflush import track

    track(mon)  # SIGTERM, SIGHUP: the open window is committed before the process dies
    global _ATEXIT
    if not _ATEXIT:
        from .threadexit import at_main_exit

        at_main_exit(_at_main_exit)
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                            after_in_child=_after_fork)
        _ATEXIT = True
    return mon


_HELD: list[Monitor] = []  # monitors whose commit lock a fork waited for


def _before_fork() -> None:
    """A fork waits for a window being committed: the monitor's thread imports modules
    the first time (alerts) and writes files, and a child forked meanwhile inherited a
    module's import lock held by a thread it does not have, and hung when it imported
    that module to commit its own window."""
    for mon in list(_OPEN):
        if not mon._closed and mon._committing.acquire(timeout=30):
            _HELD.append(mon)


def _after_fork_parent() -> None:
    for mon in _HELD:
        mon._committing.release()
    _HELD.clear()


def _after_fork() -> None:
    global _OPEN_LOCK
    _OPEN_LOCK = threading.Lock()  # (another thread may have held it at the fork)
    _HELD.clear()  # (the child's monitors get new locks)
    for mon in _OPEN:
        if not mon._closed:
            mon._forked()


def _at_main_exit() -> None:
    """When the main thread ends: commit the last windows now, or, while another thread
    may still serve (a non-daemon thread: Python waits for it), once it has ended.
    Closing under it made its next request raise 'the monitor is closed' and lost the
    requests it served meanwhile."""
    from .threadexit import serving_threads

    global _DEFERRED
    if not _DEFERRED and serving_threads():
        import atexit

        _DEFERRED = True
        atexit.register(_close_all)  # (atexit runs once Python has joined the threads)
    else:
        _close_all()


def _close_all() -> None:
    """At exit: commit each open monitor's last window."""
    with _OPEN_LOCK:
        todo = list(_OPEN)
    for mon in todo:
        try:
            mon.close()
        except Exception as exc:
            _warn(f"could not store the last window of {mon.model}: {exc}")


def _warn(text: str) -> None:
    from .recorder import warn_all

    warn_all([text], stacklevel=2)

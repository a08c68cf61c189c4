"""Buffering a run's points and events, and writing them to the journal off the hot path.

``log_metric`` only appends a tuple to a deque (thread-safe, O(1) at step 1 and at step
1,000,000); a background thread drains it every ``interval`` seconds, assigns automatic
steps, formats TSV rows and JSON lines, and appends them to the journal.

A loop that logs faster than the journal is written (millions of points a second) would
hold every point in memory, gigabytes of tuples. The background thread looks at the
buffer every ``POLL`` seconds: past ``limit`` items it flushes at once and asks the run
(``on_backlog``) to log through ``append_and_drain``, which drains the buffer itself
when it is full, until the buffer is back under the limit. The usual path stays one
``deque.append``; only a loop that outruns the writer pays, and waits for it.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .journal import Journal, dumps

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class GitlogWarning(UserWarning):
    """Warnings gitlog raises about what a run logged (NaN metrics, failed commits) and
    what a query skipped (malformed metrics, a shallow clone). Their text starts with
    ``gitlog: ``, which ``PYTHONWARNINGS=ignore:gitlog`` matches."""


def warn_all(texts: list[str], stacklevel: int = 1) -> None:
    """Issue each of ``texts`` (a query's notes and warnings) as a GitlogWarning, its
    text starting ``gitlog: ``: Python's filters match the text given here, so a
    prefix added later (by the warning class) would not be seen by ``ignore:gitlog``."""
    for text in texts:
        if not text.startswith("gitlog: "):
            text = f"gitlog: {text}"
        warnings.warn(text, GitlogWarning, stacklevel=stacklevel + 1)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def append_record(journal: Journal, name: str, obj: Any) -> None:
    """``journal.append_json`` for a call inside training (``log_param``, ``log_data``,
    ...): a journal that cannot be written (a full disk) is a warning, not an exception
    that ends the training run; what was written before stays for ``gitlog recover``."""
    try:
        journal.append_json(name, obj)
    except OSError as exc:
        warnings.warn(f"gitlog: could not write the run journal, this {name} record is "
                      f"lost: {exc}", GitlogWarning, stacklevel=3)


# A listener gets each flushed batch: points [(ts, name, step, value)] and events [dict].
Listener = Callable[[list[tuple[float, str, int, float]], list[dict[str, Any]]], None]
POLL = 0.1  # seconds between the background thread's looks at the buffer's size
CHUNK = 100_000  # items formatted and written at a time (the formatted rows take memory too)


class Recorder:
    def __init__(self, journal: Journal, interval: float) -> None:
        self.journal = journal
        self.interval = interval
        self.queue: deque = deque()
        self.append = self.queue.append
        # Points of the resource sampler (sysmetrics.py): they count samples, not training
        # steps, so they do not move the run's step (an event's default step)
        self.side: deque = deque()
        self.append_side = self.side.append
        self.last_step: dict[str, int] = {}
        self.max_step: int | None = None
        self.warned: set[str] = set()
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._holder: int | None = None  # the thread inside flush()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Items the buffer may hold before the loop that fills it is made to drain it
        # (about 130 bytes a point); on_backlog(True) / on_backlog(False) switch to and
        # from append_and_drain
        self.limit = 500_000
        self.on_backlog: Callable[[bool], None] | None = None
        self._backlogged = False
        self._pid = os.getpid()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="gitlog-flush", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        from .sigflush import off_this_thread

        off_this_thread()
        poll = min(self.interval, POLL)
        due = time.monotonic() + self.interval
        while not self._stop.wait(poll):
            full = len(self.queue) >= self.limit
            if not full and time.monotonic() < due - poll / 2:  # (a wait may end early)
                continue
            due = time.monotonic() + self.interval
            if full != self._backlogged and self.on_backlog is not None:
                self._backlogged = full
                self.on_backlog(full)
            try:
                self.flush()
            except Exception as exc:  # logging must never kill the training run
                warnings.warn(f"gitlog: could not write the run journal: {exc}", GitlogWarning,
                              stacklevel=1)

    def append_and_drain(self, item: tuple[Any, ...]) -> None:
        """``append``, for a run whose logging outruns the background thread: a full
        buffer is drained here, so memory stays bounded (the loop waits for the writer)."""
        self.queue.append(item)
        # (a forked child holds a copy of the buffer: the parent's run, not its to write)
        if len(self.queue) >= self.limit and os.getpid() == self._pid:
            try:
                self.flush()
            except Exception as exc:  # logging must never kill the training run
                warnings.warn(f"gitlog: could not write the run journal: {exc}", GitlogWarning,
                              stacklevel=2)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()

    def flush_or_warn(self) -> None:
        """``flush`` for the script's own call (``run.flush()``): a failure to write warns."""
        try:
            self.flush()
        except OSError as exc:
            warnings.warn(f"gitlog: could not write the run journal: {exc}", GitlogWarning,
                          stacklevel=3)

    def flush(self) -> None:
        with self._lock:
            self._holder = threading.get_ident()
            try:
                self._drain()
            finally:
                self._holder = None

    def flush_for_exit(self, wait: float = 5.0) -> None:
        """``flush`` from a signal handler: the thread it interrupted may be inside a
        flush (then the rest of that flush is lost: waiting would never end), and the
        background thread gets ``wait`` seconds to finish its own."""
        if self._holder == threading.get_ident() or not self._lock.acquire(timeout=wait):
            return
        try:
            self._drain()
        finally:
            self._lock.release()

    def _drain(self) -> None:
        left = len(self.queue)
        while True:  # in chunks: the formatted rows of a large buffer take memory too
            count = min(left, CHUNK)
            left -= count
            self._drain_some(count, side=left == 0)
            if left == 0:
                return

    def _drain_some(self, count: int, side: bool) -> None:
        queue, last, warned = self.queue, self.last_step, self.warned
        rows: dict[str, list[str]] = {}
        keep_points = bool(self.listeners)
        points: list[tuple[float, str, int, float]] = []
        events: list[dict[str, Any]] = []
        nonfinite: list[tuple[str, int, float]] = []
        max_step = self.max_step if self.max_step is not None else -1
        popleft = queue.popleft
        last_ts = 0.0
        for _ in range(count):
            item = popleft()
            if len(item) == 4:
                ts, name, step, value = item
                if step is None:
                    step = last.get(name, -1) + 1
                last[name] = step
                if step > max_step:
                    max_step = step
                # value - value is 0 for every finite number, NaN for NaN and infinities
                if value - value != 0 and name not in warned:
                    nonfinite.append((name, step, value))
                lines = rows.get(name)
                if lines is None:
                    lines = rows[name] = []
                lines.append(f"{ts * 1000:.0f}\t{step}\t{value!r}\n")
                if keep_points:
                    points.append((ts, name, step, value))
                last_ts = ts
            else:
                ts, level, message, fields, step = item
                events.append({"ts": iso(ts), "level": level, "message": message,
                               "fields": fields,
                               "step": (max_step if max_step >= 0 else None)
                               if step is None else step})
        self.max_step = max_step if max_step >= 0 else None
        for _ in range(len(self.side) if side else 0):
            ts, name, value = self.side.popleft()
            step = last[name] = last.get(name, -1) + 1
            if value - value != 0 and name not in warned:
                nonfinite.append((name, step, value))
            rows.setdefault(name, []).append(f"{ts * 1000:.0f}\t{step}\t{value!r}\n")
            if keep_points:
                points.append((ts, name, step, value))
        for name, step, value in nonfinite:
            if name in self.warned:
                continue
            self.warned.add(name)
            text = f"metric {name!r} is {value!r} at step {step}; recorded as is"
            warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=1)
            events.append({"ts": iso(last_ts), "level": "warning", "message": text,
                           "fields": {"metric": name, "value": repr(value)}, "step": step})
        # each file on its own: one that cannot be written (a full disk, a size limit)
        # loses its lines only; the journal counts them (losses.py)
        failed: OSError | None = None
        for name, lines in rows.items():
            try:
                self.journal.append_metric_rows(name, "".join(lines))
            except OSError as exc:
                failed = failed or exc
        if events:
            try:
                self.journal.append("events.jsonl", "".join(dumps(e) + "\n" for e in events))
            except OSError as exc:
                failed = failed or exc
        if self.listeners and (points or events):
            for listener in list(self.listeners):
                try:
                    listener(points, events)
                except Exception as exc:
                    warnings.warn(f"gitlog: a run listener failed: {exc}", GitlogWarning,
                                  stacklevel=1)
        if failed is not None:
            raise failed

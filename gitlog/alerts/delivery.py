"""Delivering alerts off the training loop, with retries and backoff.

Each delivery runs in its own daemon thread (alerts are rare: one per rule per run).
A failed attempt is retried ``retries`` times, sleeping ``backoff``, 2x``backoff``, ...
between attempts; then it is given up and reported (a warning, never an exception).
``drain()`` waits for what is pending, bounded by the retry/backoff budget: ``Run.finish``
and the post-commit step call it, and an ``atexit`` handler does too, so what a process
raised is delivered (or given up) before it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .notifiers import NotifyError, scrub, secrets_of, send

MAX_BUDGET = 300.0


@dataclass
class Delivery:
    notifier: str
    ok: bool
    attempts: int
    error: str | None = None


def budget(spec: dict[str, Any]) -> float:
    """The longest a delivery through ``spec`` can take, retries and backoff included."""
    retries = int(spec.get("retries", 2))
    timeout, backoff = float(spec.get("timeout", 10)), float(spec.get("backoff", 1.0))
    return min(MAX_BUDGET, (retries + 1) * timeout * 2 + backoff * (2 ** retries - 1))


def deliver(name: str, spec: dict[str, Any], payload: dict[str, Any], root: Path,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Send with retries; never raises. The error text has every secret scrubbed."""
    retries = int(spec.get("retries", 2))
    backoff = float(spec.get("backoff", 1.0))
    error = None
    for attempt in range(retries + 1):
        try:
            send(spec, payload, root)
            return Delivery(name, True, attempt + 1)
        except NotifyError as exc:
            error = str(exc)
            if exc.permanent:
                return Delivery(name, False, attempt + 1, scrub(error, secrets_of(spec)))
        except Exception as exc:  # a notifier bug must not reach the training run
            error = f"{type(exc).__name__}: {exc}"
        if attempt < retries:
            sleep(backoff * 2 ** attempt)
    return Delivery(name, False, retries + 1, scrub(error or "failed", secrets_of(spec)))


class Dispatcher:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: dict[int, float] = {}
        self._next = 0
        self._atexit = False

    def submit(self, name: str, spec: dict[str, Any], payload: dict[str, Any], root: Path,
               on_done: Callable[[Delivery], None] | None = None) -> int:
        """Deliver in a thread of its own; the key ``drain(keys=...)`` waits for."""
        with self._cond:
            key = self._next
            self._next += 1
            self._deadlines[key] = time.monotonic() + budget(spec)
            if not self._atexit:
                atexit.register(self.drain)
                self._atexit = True
        thread = threading.Thread(target=self._run, args=(key, name, spec, payload, root,
                                                          on_done),
                                  name=f"gitlog-alert-{name}", daemon=True)
        thread.start()
        return key

    def _run(self, key: int, name: str, spec: dict[str, Any], payload: dict[str, Any],
             root: Path, on_done: Callable[[Delivery], None] | None) -> None:
        try:
            result = deliver(name, spec, payload, root)
            if on_done is not None:
                with contextlib.suppress(Exception):
                    on_done(result)
        finally:
            with self._cond:
                self._deadlines.pop(key, None)
                self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._deadlines)

    def drain(self, timeout: float | None = None, keys: set[int] | None = None) -> bool:
        """Wait until nothing is pending (at most each delivery's budget); True if done.
        ``keys``: wait for those deliveries only (a run's own, not another live run's)."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while waiting := [at for key, at in self._deadlines.items()
                              if keys is None or key in keys]:
                now = time.monotonic()
                limit = max(waiting) - now
                if end is not None:
                    limit = min(limit, end - now)
                if limit <= 0:
                    return False
                self._cond.wait(limit)
            return True


DISPATCHER = Dispatcher()


def submit_alert(alert: Any, facts: dict[str, Any], notifiers: dict[str, Any], root: Path,
                 on_done: Callable[[Delivery], None] | None = None) -> set[int]:
    """Deliver ``alert`` (with the run's ``facts``) through each notifier its rule names
    that is configured; the keys ``drain`` waits for."""
    payload = alert.payload(facts)
    return {DISPATCHER.submit(name, notifiers[name], payload, root, on_done)
            for name in alert.rule.notify if name in notifiers}


def undelivered(rule: str, result: Delivery) -> str:
    """What a delivery given up says: 'alert RULE not delivered to NOTIFIER after ...'."""
    return (f"alert {rule} not delivered to {result.notifier} after {result.attempts} "
            f"attempt(s): {result.error}")

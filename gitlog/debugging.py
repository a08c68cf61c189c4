"""Debugging logs: levels, the ``logging`` bridge, ``warnings.warn`` capture, the context
of an uncaught exception, and sampled inputs/outputs (``Run.log_sample``).

Levels are debug < info < warning < error < critical; a run drops events under its
threshold (``log_level`` in ``.gitlog.yaml``, ``GITLOG_LEVEL``, ``start(level=...)``).
``filter_events`` filters events by level, as ``gitlog logs --level`` does.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import random
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Iterable
from typing import Any

from .config import LEVEL_NAMES, level_name
from .errors import GitlogError
from .recorder import LEVELS, GitlogWarning
from .values import step_number

MAX_LAST_VALUES = 50
MAX_TEXT = 500
MAX_ITEMS = 20
HEAD = 5


# -- levels --------------------------------------------------------------------------
def level_number(level: str) -> int:
    """The rank of ``level``; GitlogError naming the valid levels otherwise."""
    name = level_name(level)
    if name is None:
        raise GitlogError(f"unknown level {level!r}", hint=f"use one of {LEVEL_NAMES}")
    return LEVELS[name]


def level_of(record_level: int) -> str:
    """gitlog's level for a ``logging`` level number (custom levels round down)."""
    chosen = "debug"
    for name, number in LEVELS.items():
        if record_level >= number:
            chosen = name
    return chosen


def filter_events(events: Iterable[Any], min_level: str | None = None,
                  levels: Iterable[str] | None = None) -> list[Any]:
    """Events at ``min_level`` or above and/or exactly at one of ``levels``: the dicts of
    ``events.jsonl`` or the ``Event`` objects ``gitlog.logs()`` returns."""
    floor = level_number(min_level) if min_level else None
    exact = None
    if levels:  # as gitlog names them: 'WARN' is 'warning', 'fatal' 'critical'
        exact = {level_name(x) for x in levels if level_number(x)}
    out = []
    for event in events:
        name = str(event.get("level", "info") if isinstance(event, dict) else
                   getattr(event, "level", "info"))
        if floor is not None and LEVELS.get(name, 0) < floor:
            continue
        if exact is not None and name not in exact:
            continue
        out.append(event)
    return out


# -- the logging module --------------------------------------------------------------
# What every LogRecord has (and what formatting adds); any other attribute came from
# ``extra=``. ``step`` sets the event's step instead.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | \
    {"message", "asctime", "taskName", "step"}


class LoggingHandler(logging.Handler):
    """Route ``logging`` records into the active run (or ``run``), as events.

        logging.getLogger().addHandler(gitlog.LoggingHandler())

    The logger name, the traceback of ``logger.exception(...)`` (the stack of
    ``stack_info=True``) and the fields of ``extra={...}`` go into the event's fields;
    ``extra={"step": n}`` sets its step. Without an active run records are dropped; the
    handler never raises into the program.
    """

    def __init__(self, level: int = logging.NOTSET, run: Any = None) -> None:
        super().__init__(level)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        try:
            run = self.run
            if run is None:
                from .liveruns import current_run

                run = current_run()
                if run is None:
                    return
            elif run._finished:
                return  # a handler bound to a run outlives it in the logging tree
            if record.name == "py.warnings" and getattr(_IN_WARNING, "recorded", False):
                return  # logging.captureWarnings' copy of a warning the run recorded
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info and record.exc_info[0] is not None:
                fields["exception"] = record.exc_info[0].__name__
                fields["traceback"] = logging.Formatter().formatException(record.exc_info)
            if record.stack_info:
                fields["stack"] = record.stack_info
            for key, value in vars(record).items():  # extra={...}, the user's own fields
                if key not in _RECORD_ATTRS and key[:1] != "_":
                    fields.setdefault(key, value)
            step = getattr(record, "step", None)
            if isinstance(step, numbers.Integral) and not isinstance(step, bool) and \
                    int(step) >= 0:  # numpy's int64 too (an epoch from np.arange)
                fields["step"] = int(step)
            try:
                message = record.getMessage() if self.formatter is None else \
                    self.format(record)
            except (TypeError, ValueError, KeyError) as exc:  # 'odd %s %s' % (1,): the
                # record is kept as written (logging drops it), its arguments beside it
                message = str(record.msg)
                fields.setdefault("args", repr(record.args))
                fields.setdefault("format_error", exception_text(exc))
            run.log(level_of(record.levelno), message, **fields)
        except Exception:
            self.handleError(record)


# -- warnings.warn -------------------------------------------------------------------
_WARN_LOCK = threading.Lock()
_IN_WARNING = threading.local()
_IN_THREAD_EXIT = threading.local()


def capture_warnings(run: Any) -> None:
    """Record ``warnings.warn`` calls into the innermost live run.

    Installed once, and again if something (``warnings.catch_warnings``, or the user's
    own ``showwarning`` put on top of gitlog's) replaced it since. The hook that sees a
    warning first records it; one further down the chain (the earlier hook a user's
    ``showwarning`` calls on to) only passes it on, so each warning is recorded once.
    """
    with _WARN_LOCK:
        if getattr(warnings.showwarning, "_gitlog", False):
            return
        previous = warnings.showwarning

        def showwarning(message: Any, category: type, filename: str, lineno: int,
                        file: Any = None, line: str | None = None) -> None:
            if getattr(_IN_WARNING, "busy", False):  # handled by a hook up the chain
                previous(message, category, filename, lineno, file, line)
                return
            _IN_WARNING.busy = True
            try:
                recorded = not issubclass(category, GitlogWarning) and \
                    _record_warning(message, category, filename, lineno)
                # logging.captureWarnings(True) shows it as a 'py.warnings' record: the
                # LoggingHandler leaves that one out, the run has it already
                _IN_WARNING.recorded = recorded
                previous(message, category, filename, lineno, file, line)
            finally:
                _IN_WARNING.busy = _IN_WARNING.recorded = False

        showwarning._gitlog = True  # type: ignore[attr-defined]
        warnings.showwarning = showwarning


def _record_warning(message: Any, category: type, filename: str, lineno: int) -> bool:
    """Record the warning into this thread's run (``current_run``); whether there was
    one."""
    from .liveruns import current_run

    run = current_run()
    if run is None:
        return False
    with contextlib.suppress(Exception):
        run.log("warning", f"{category.__name__}: {message}",
                category=category.__name__, filename=filename, lineno=lineno)
    return True


def capture_thread_exceptions() -> None:
    """Record an exception that ends a thread (a data-loader or logging worker) into the
    innermost live run, as an error event; the run goes on, as the program does.

    Installed once, chained to the ``threading.excepthook`` there was (which still prints
    the traceback), and again if something (the user's own hook, calling on to gitlog's)
    replaced it since: only the first gitlog hook in the chain records the exception.
    """
    with _WARN_LOCK:
        if getattr(threading.excepthook, "_gitlog", False):
            return
        previous = threading.excepthook

        def excepthook(args: Any) -> None:
            if getattr(_IN_THREAD_EXIT, "busy", False):  # recorded up the chain
                previous(args)
                return
            _IN_THREAD_EXIT.busy = True
            try:
                if not issubclass(args.exc_type, SystemExit):
                    _record_thread_exception(args)
                previous(args)
            finally:
                _IN_THREAD_EXIT.busy = False

        excepthook._gitlog = True  # type: ignore[attr-defined]
        threading.excepthook = excepthook


def _record_thread_exception(args: Any) -> None:
    from .liveruns import current_run

    run = current_run()
    if run is None:
        return
    with contextlib.suppress(Exception):
        name = args.thread.name if args.thread is not None else "unknown"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                  args.exc_traceback))
        message = f"thread {name}: {exception_text(args.exc_value, args.exc_type)}"
        run.log("error", message,
                exception=args.exc_type.__name__, thread=name, traceback=text)


def exception_text(exc: BaseException | None, kind: type | None = None) -> str:
    """``ValueError: bad batch``, also for an exception whose ``str()`` raises (as
    Python's own traceback shows it), which made gitlog's exit raise a second exception
    and lost the event."""
    try:
        text = str(exc)
    except Exception:
        text = "<exception str() failed>"
    return f"{(kind or type(exc)).__name__}: {text}"


# -- uncaught exceptions -------------------------------------------------------------
def failure_context(run: Any) -> dict[str, Any]:
    """The step and the last logged value of each metric, for an exception's event."""
    run.flush()
    out: dict[str, Any] = {"step": run._recorder.max_step}
    last: dict[str, Any] = {}
    for name, path in run.journal.metric_files():
        if len(last) >= MAX_LAST_VALUES:
            break
        value = _last_value(path)
        if value is not None:
            last[name] = value
    if last:
        out["last_values"] = last
    return out


def _last_value(path: Any) -> float | int | None:
    from .layout import parse_number

    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 512))
        tail = fh.read().decode("utf-8", "replace")
    lines = tail.split("\n")[:-1]  # the last piece is empty or a torn write
    for line in reversed(lines):
        parts = line.split("\t")
        if len(parts) == 3 and not line.startswith("timestamp"):
            try:
                return parse_number(parts[2])
            except ValueError:
                return None
    return None


# -- samples -------------------------------------------------------------------------
class Reservoir:
    """Algorithm R: a uniform sample of ``size`` items out of every offer so far."""

    def __init__(self, size: int, rng: random.Random | None = None) -> None:
        self.size = size
        self.seen = 0
        self.items: list[Any] = []
        self._rng = rng or random.Random()

    def slot(self) -> int | None:
        """Count one offer; the slot it takes, or None when it is not kept."""
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(None)
            return len(self.items) - 1
        j = self._rng.randrange(self.seen)
        return j if j < self.size else None


SAMPLE_KEYS = ("sample", "index", "offered")  # the fields of a sample event gitlog sets
_RESERVOIRS: weakref.WeakKeyDictionary[Any, dict[str, Reservoir]] = \
    weakref.WeakKeyDictionary()
_SAMPLE_LOCK = threading.Lock()


def offer_sample(run: Any, name: str, inputs: Any, outputs: Any, step: int | None,
                 values: dict[str, Any]) -> None:
    if not isinstance(name, str) or not name or "\n" in name:
        raise GitlogError(f"sample names are non-empty one-line strings, got {name!r}")
    if step is not None:
        step = step_number(step)  # an int or a numpy integer (i from np.arange)
    taken = [str(k) for k in values if str(k) in SAMPLE_KEYS]
    if taken:
        raise GitlogError(f"log_sample field {taken[0]!r} is one gitlog sets "
                          f"({', '.join(SAMPLE_KEYS)})",
                          hint=f"name it otherwise, e.g. batch_{taken[0]}=")
    with _SAMPLE_LOCK:
        pools = _RESERVOIRS.get(run)
        if pools is None:
            pools = _RESERVOIRS[run] = {}
            run.add_finish_hook(write_samples)
        pool = pools.get(name)
        if pool is None:
            pool = pools[name] = Reservoir(int(run.config["samples"]["size"]))
        slot = pool.slot()
        index = pool.seen
    if slot is None:
        return
    if step is None:  # the run's step now, not the one it has when the run finishes
        run.flush()
        step = run._recorder.max_step
    record: dict[str, Any] = {"sample": name, "index": index}
    if inputs is not None:
        record["inputs"] = summarise(inputs)
    if outputs is not None:
        record["outputs"] = summarise(outputs)
    for key, value in values.items():
        record[str(key)] = summarise(value)
    with _SAMPLE_LOCK:
        pool.items[slot] = (time.time(), step, record)


def write_samples(run: Any) -> None:
    """At finish: each kept sample becomes one event (``sample NAME``), oldest first."""
    with _SAMPLE_LOCK:
        pools = _RESERVOIRS.pop(run, {})
    for name, pool in pools.items():
        kept = sorted((x for x in pool.items if x is not None), key=lambda x: x[2]["index"])
        for ts, step, record in kept:
            record["offered"] = pool.seen
            run.record_event("info", f"sample {name}", record, step, ts=ts)


def summarise(value: Any, depth: int = 0) -> Any:
    """Plain, bounded data for ``value``: arrays and frames become shape and statistics."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "... [truncated]"
    if isinstance(value, (bytes, bytearray)):
        return {"type": "bytes", "size": len(value)}
    kind = type(value).__name__
    module = type(value).__module__ or ""
    try:
        if module.startswith("pandas") and kind == "DataFrame":
            return _frame(value)
        if module.startswith("pandas") and kind == "Series":
            out = _array(value.to_numpy())
            out.update(type="Series", name=summarise(value.name, depth + 1))
            return out
        if module.startswith("torch") and hasattr(value, "detach"):
            out = _array(value.detach().cpu().numpy())
            out["type"] = "Tensor"
            return out
        if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "ravel"):
            return _array(value)
    except Exception:
        return {"type": kind}
    if isinstance(value, dict):
        items = list(value.items())
        out_map = {str(k): summarise(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            out_map["..."] = f"{len(items) - MAX_ITEMS} more keys"
        return out_map
    if isinstance(value, (list, tuple)):
        if len(value) <= MAX_ITEMS and depth < 3:
            return [summarise(v, depth + 1) for v in value]
        return {"type": kind, "length": len(value),
                "head": [summarise(v, depth + 1) for v in value[:HEAD]]}
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return summarise(item(), depth + 1)
        except Exception:
            pass
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _array(array: Any) -> dict[str, Any]:
    import numpy as np

    array = np.asarray(array)
    out: dict[str, Any] = {"type": "ndarray", "shape": [int(d) for d in array.shape],
                           "dtype": str(array.dtype)}
    flat = array.ravel()
    if flat.size and np.issubdtype(array.dtype, np.number) and \
            not np.issubdtype(array.dtype, np.complexfloating):
        finite = flat[np.isfinite(flat)] if np.issubdtype(array.dtype, np.floating) else flat
        out["nan"] = int(flat.size - finite.size) if finite is not flat else 0
        if finite.size:
            out.update(min=float(finite.min()), max=float(finite.max()),
                       mean=float(finite.mean()), std=float(finite.std()))
    if flat.size <= MAX_ITEMS:
        out["values"] = [summarise(v.item() if hasattr(v, "item") else v, 3) for v in flat]
    else:
        out["head"] = [summarise(v.item() if hasattr(v, "item") else v, 3)
                       for v in flat[:HEAD]]
    return out


def _frame(frame: Any) -> dict[str, Any]:
    rows, cols = frame.shape
    columns = [str(c) for c in list(frame.columns)[:MAX_ITEMS]]
    head = frame.head(3)
    return {"type": "DataFrame", "shape": [int(rows), int(cols)], "columns": columns,
            "dtypes": {str(c): str(t) for c, t in list(frame.dtypes.items())[:MAX_ITEMS]},
            "nulls": int(frame.isna().to_numpy().sum()),
            "head": [{str(k): summarise(v, 3) for k, v in list(row.items())[:MAX_ITEMS]}
                     for row in head.to_dict("records")]}

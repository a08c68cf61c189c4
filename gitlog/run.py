"""A run: what the training script logs to, from ``start()`` to ``finish()``.

The hot path (``log_metric``) validates a name once, checks the value's type and appends
a tuple to a deque; everything else happens in the recorder's background thread or at
finish. Bad calls raise ``GitlogError`` subclasses and leave the run intact.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import warnings
from collections.abc import Mapping
from pathlib import Path
from time import time as _time
from typing import Any, Literal

from . import exitstatus, forkchild
from .config import LEVEL_NAMES, Config, level_name
from .errors import GitlogError, RunStateError
from .exitstatus import code_of
from .git import Repo
from .journal import Journal
from .liveruns import _ACTIVE, _ACTIVE_LOCK, active_run  # noqa: F401 (gitlog.active_run)
from .names import MetricNames, check_metric
from .recorder import LEVELS, GitlogWarning, Recorder, append_record
from .values import config_items, deep_merge, metric_value, param_update, step_number


class Run:
    """One training run. Use it as a context manager, or call ``finish()``."""

    def __init__(self, repo: Repo, config: Config, journal: Journal, meta: dict[str, Any], *,
                 owner: bool = True, level: str = "info",
                 flush_interval: float | None = None) -> None:
        self.repo = repo
        self.config = config
        self.journal = journal
        self.meta = meta
        self.owner = owner
        self.commit: str | None = None
        self.path: Path | None = None
        self.status = "running"
        self.unstored: Exception | None = None  # why finish() could not commit the run
        self._quiet_unstored = False  # the caller reports that itself (gitlog run)
        self._threshold = LEVELS[level]
        self._catalog = MetricNames()
        self._names = self._catalog.names  # (the hot path's membership test)
        self._names_lock = threading.Lock()  # threads may log new names at once
        self._recorder = Recorder(journal, flush_interval or config["flush_interval"])
        self._append = self._recorder.append
        self._recorder.on_backlog = self._backlog
        self._append_lock = threading.Lock()  # the flusher and finish() both set _append
        self._finished = False
        self._finishing = False
        self._excepthook = exitstatus.ExceptHook(self._uncaught)
        self._exit_code: int | None = None  # the process's, when the run ends with it
        self._hooks: dict[str, list[Any]] = {"closing": [], "stored": []}
        self._pid = os.getpid()  # a forked child holds a copy of the run, not the run
        self._thread = threading.get_ident()  # module-level calls there log to this run
        self._started_in: Any = None  # the frame that called start() (threadexit.py)
        self._recorder.start()
        self._excepthook.install()
        with _ACTIVE_LOCK:
            _ACTIVE.append(self)
        forkchild.watch(_ACTIVE)
        from .sigflush import track

        track(self._recorder)
        from .alerts import attach as attach_alerts
        from .debugging import capture_thread_exceptions, capture_warnings

        capture_warnings(self)
        capture_thread_exceptions()
        attach_alerts(self)

    # -- identity -------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.meta["id"])

    @property
    def experiment(self) -> str:
        return str(self.meta["experiment"])

    @property
    def mode(self) -> str:
        return str(self.meta["mode"])

    def __repr__(self) -> str:
        return f"<gitlog.Run {self.id} experiment={self.experiment!r} status={self.status}>"

    # -- metrics (hot path) -----------------------------------------------------
    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record one point of metric ``name``; ``step`` defaults to its previous step + 1."""
        if name not in self._names:
            self._register(name)
        if type(value) is not float and type(value) is not int:
            value = metric_value(name, value)
        if step is not None and (type(step) is not int or step < 0):
            step = step_number(step)
        self._append((_time(), name, step, value))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metrics at one step: all of them, or (a bad name, value or
        step) none."""
        try:
            items = list(metrics.items())
        except AttributeError:  # a list of pairs, a number: say what to pass
            raise GitlogError(f"metrics must be a mapping of names to numbers, got "
                              f"{type(metrics).__name__}",
                              hint="pass a dict such as {'loss': 0.1}, or call "
                                   "log_metric(name, value)") from None
        if step is not None and (type(step) is not int or step < 0):
            step = step_number(step)
        points = []
        for name, value in items:  # each checked before any is logged
            if name not in self._names:
                self._register(name)
            if type(value) is not float and type(value) is not int:
                value = metric_value(name, value)
            points.append((name, value))
        for name, value in points:
            self._append((_time(), name, step, value))

    def log_system(self, name: str, value: float) -> None:
        """A point of the resource sampler's ``name`` series (sysmetrics.py): stepped
        once per sample, apart from training, so it does not move the run's step."""
        if self._finished:
            return
        if name not in self._names:
            self._register(name)
        self._recorder.append_side((_time(), name, float(value)))

    def _register(self, name: str) -> None:
        if self._finished:
            raise RunStateError(f"run {self.id} is finished; start a new run to log more")
        check_metric(name)
        # A lock: several threads may log their first points at once, and a check made
        # apart from the others' additions would let 'a' and 'a/b' both in.
        with self._names_lock:
            self._catalog.add(name)

    # -- params, data, model ------------------------------------------------------
    def log_param(self, name: str, value: Any) -> None:
        """Set one hyperparameter; dots nest (``optimizer.lr``)."""
        self._check_open()
        append_record(self.journal, "params", param_update(name, value))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Set many hyperparameters (a dict, argparse Namespace or dataclass); nests."""
        self._check_open()
        items = config_items(params)
        if items is None:
            raise GitlogError(f"params must be a mapping, got {type(params).__name__}",
                              hint="pass a dict such as {'lr': 0.1} or a dataclass")
        merged: dict[str, Any] = {}
        for key, value in items.items():
            deep_merge(merged, param_update(str(key), value))
        append_record(self.journal, "params", merged)

    def log_data(self, data: Any = None, *, name: str | None = None, source: str | None = None,
                 samples: int | None = None, features: Any = None,
                 processing: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        """Describe a data set: a path (hashed as DVC hashes it), a frame/array, or fields.

        A file inside the repository is also tracked with DVC (``log_artifact``, type
        "data")."""
        self._check_open()
        from .describe import describe_data, with_fields

        if name is None:
            name = Path(os.fspath(data)).name if isinstance(data, (str, os.PathLike)) else "data"
        descriptor = None
        if isinstance(data, (str, os.PathLike)):
            from .tracking import track_file

            descriptor = track_file(self, data, name, "data")
        descriptor = with_fields(descriptor or describe_data(data), extra, source=source,
                                 samples=samples, features=features, processing=processing)
        append_record(self.journal, "data", {"name": name, "descriptor": descriptor})
        return descriptor

    def log_model(self, model: Any = None, *, name: str = "model", type: str | None = None,
                  layers: Any = None, activations: Any = None, parameters: int | None = None,
                  **extra: Any) -> dict[str, Any]:
        """Describe a model: a dict, a scikit-learn or PyTorch object, or fields.

        A path to a file inside the repository is tracked with DVC (``log_artifact``,
        type "model")."""
        self._check_open()
        from .describe import describe_model, with_fields

        descriptor = None
        if isinstance(model, (str, os.PathLike)):
            from .tracking import track_file

            descriptor = track_file(self, model, name, "model")
        if descriptor is None:
            descriptor = describe_model(model) if model is not None else {}
        descriptor = with_fields(descriptor, extra, type=type, layers=layers,
                                 activations=activations, parameters=parameters)
        append_record(self.journal, "model", {"name": name, "descriptor": descriptor})
        return descriptor

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None, *,
                     type: str = "model", meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Track a file or folder with DVC: content into the DVC cache, its pointer into
        the run commit (``<log_dir>/artifacts/NAME.dvc``), name, type, size and hash into
        ``run.yaml``. ``name`` defaults to the file name; logging a name again replaces it.
        """
        self._check_open()
        from .tracking import log_artifact

        return log_artifact(self, path, name=name, type=type, meta=meta)

    # -- events -------------------------------------------------------------------
    # level and message are positional-only: a field may be named 'level' or 'message'
    def log(self, level: str, message: str, /, **fields: Any) -> None:
        """Record an event at ``level``; ``step=`` among the fields sets its step."""
        number = LEVELS.get(level)
        if number is None and isinstance(level, str):
            level = level_name(level) or level  # 'WARNING', 'warn', as logging names it
            number = LEVELS.get(level)
        if number is None:
            raise GitlogError(f"unknown level {level!r}", hint=f"use one of {LEVEL_NAMES}")
        if number < self._threshold:
            return
        step = fields.pop("step", None)
        if step is not None and (type(step) is not int or step < 0):
            step = step_number(step)
        self._append((_time(), level, str(message), fields, step))

    def debug(self, message: str, /, **fields: Any) -> None:
        self.log("debug", message, **fields)

    def info(self, message: str, /, **fields: Any) -> None:
        self.log("info", message, **fields)

    def warning(self, message: str, /, **fields: Any) -> None:
        self.log("warning", message, **fields)

    def error(self, message: str, /, **fields: Any) -> None:
        self.log("error", message, **fields)

    def critical(self, message: str, /, **fields: Any) -> None:
        self.log("critical", message, **fields)

    def record_event(self, level: str, message: str, fields: dict[str, Any] | None = None,
                     step: int | None = None, ts: float | None = None) -> None:
        """Record an event whatever the run's level threshold (alerts, samples use it;
        after the run is finished, it is dropped)."""
        self._recorder.append((ts or _time(), level, str(message), fields or {}, step))

    # -- evaluation and samples (logic in evaluate.py / debugging.py) -------------------
    def log_eval(self, y_true: Any, y_pred: Any = None, y_score: Any = None, *,
                 labels: Any = None, prefix: str = "eval",
                 step: int | None = None) -> dict[str, float]:
        """Evaluate predictions on a held-out set with scikit-learn; log metrics and plots.

        y_true: the true labels (a list, numpy array or pandas Series, read by position);
            for a multilabel problem, a 0/1 indicator matrix.
        y_pred: the predicted labels (``predict(X)``); default: derived from ``y_score``.
        y_score: probabilities (``predict_proba(X)``) or scores (``decision_function(X)``,
            logits): one per sample, or one column per class.
        labels: every class, in the order of the score columns (1-D scores:
            [negative, positive]); default: those of y_true and y_pred.
        prefix: the metrics' group (``eval/accuracy``) and the plot files' name.
        step: the step the metrics are logged at (default: each one's next step).

        Records accuracy, precision/recall/F1 (macro, micro, weighted; for a binary problem
        also the positive class's own), ROC-AUC and log-loss when ``y_score`` is given,
        as ``<prefix>/<name>`` metrics, and ROC / precision-recall curves and the
        confusion matrix as plot files DVC renders. Returns the metrics. Bad input (NaN,
        different lengths, a missing label) raises ``GitlogError`` before anything is
        logged; an undefined ROC-AUC (one class in y_true) is a ``GitlogWarning``.
        """
        self._check_open()
        from .evaluate import log_eval

        return log_eval(self, y_true, y_pred, y_score, labels=labels, prefix=prefix, step=step)

    def log_sample(self, name: str, /, inputs: Any = None, outputs: Any = None, *,
                   step: int | None = None, **values: Any) -> None:
        """Offer one sample (inputs / intermediate values / predictions) to a reservoir.

        At most ``samples.size`` samples per name are kept (reservoir sampling, uniform
        over every call); arrays and frames are summarised, not dumped. Kept samples are
        written as events when the run finishes.
        """
        self._check_open()
        from .debugging import offer_sample

        offer_sample(self, name, inputs, outputs, step, values)

    def add_finish_hook(self, fn: Any, stage: str = "closing") -> None:
        """Call ``fn(run)`` at finish: "closing" before the last flush, "stored" after
        the run is committed (alert delivery waits there)."""
        self._hooks[stage].append(fn)

    def _run_hooks(self, stage: str) -> None:
        for fn in self._hooks[stage]:
            try:
                fn(self)
            except Exception as exc:  # a failing extension must not lose the run
                self._warn(f"finishing run {self.id}: {exc}")

    def _backlog(self, full: bool) -> None:
        """From the flusher: the buffer passed its limit (log through a call that drains
        it when full: bounded memory) or is back under it (one deque.append again)."""
        with self._append_lock:
            if not self._finished:
                self._append = self._recorder.append_and_drain if full else \
                    self._recorder.append

    def add_listener(self, listener: Any) -> None:
        """Call ``listener(points, events)`` with every flushed batch (alerts use this)."""
        self._recorder.listeners.append(listener)

    def flush(self) -> None:
        """Write everything buffered to the journal now."""
        self._recorder.flush_or_warn()

    # -- the end ----------------------------------------------------------------------
    def _closed(self, _item: Any) -> None:
        raise RunStateError(f"run {self.id} is finished; start a new run to log more",
                            hint="log inside the 'with gitlog.start(...)' block, or before "
                                 "run.finish()")

    def _discard(self) -> None:
        """Undo a run whose start failed (bad params): no journal is left behind for
        ``recover`` to commit, and it is no longer the active run."""
        self._finished = True
        self._excepthook.uninstall()
        with _ACTIVE_LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
        from .sigflush import release

        self._recorder.stop()
        release(self._recorder)
        if self.owner:
            self.journal.remove()
        else:
            self.journal.close()  # the parent's run stays as it is

    def _check_open(self) -> None:
        if self._finished:
            raise RunStateError(f"run {self.id} is finished; start a new run to log more")

    def finish(self, status: str = "completed") -> str | None:
        """End the run and store it; return the commit id (or the log folder's path).

        A failure to store warns and keeps the journal for ``gitlog recover``: it never
        raises into the training script.
        """
        if status not in ("completed", "failed", "killed"):
            raise GitlogError(f"unknown status {status!r}",
                              hint="use 'completed', 'failed' or 'killed'")
        if self._finished or self._finishing:
            return self.commit or (str(self.path) if self.path else None)
        self._finishing = True
        self._started_in = None  # (its locals: a model, a batch)
        self._excepthook.uninstall()
        self._run_hooks("closing")  # the run is still open to them
        with self._append_lock:
            self._finished = True
            self._append = self._closed  # a point or event logged from now on raises
        with _ACTIVE_LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
        try:
            self._recorder.stop()
            self._recorder.flush()  # events listeners recorded during the last flush
        except Exception as exc:
            self._warn(f"could not write the journal of run {self.id}: {exc}")
        from .losses import note_losses

        lost = note_losses(self.journal, self._recorder.max_step)
        if lost:
            self._warn(f"run {self.id}: {lost}")
        try:
            from .recorder import iso

            self.journal.append_json("status", {"status": status, "end": iso(time.time()),
                                                "by": "owner" if self.owner else "child"})
            if self.owner:
                from .describe import ml_packages

                info: dict[str, Any] = {"packages": ml_packages()}
                if self._exit_code is not None:
                    info["exit_code"] = self._exit_code
                self.journal.append_json("info", info)
        except Exception as exc:
            self._warn(f"could not write the journal of run {self.id}: {exc}")
        from .sigflush import release

        release(self._recorder)  # written: a signal may now end the process as before
        self.status = status
        if not self.owner:
            self.journal.close()
            self._run_hooks("stored")
            return None
        try:
            from .store import store_journal

            self.status, self.commit, self.path = store_journal(self.repo, self.config,
                                                                self.journal)
        except Exception as exc:
            self.journal.close()
            self.journal.unlock()
            self.unstored = exc
            if not self._quiet_unstored:
                self._warn(f"could not commit run {self.id}: {exc}. Its data is kept in "
                           f"{self.journal.path}; {unstored_fix(exc)}")
            self._run_hooks("stored")
            return None
        self._run_hooks("stored")
        return self.commit or (str(self.path) if self.path else None)

    def _warn(self, text: str) -> None:
        warnings.warn(f"gitlog: {text}", GitlogWarning, stacklevel=3)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None:
            self.finish("completed")
        elif isinstance(exc, KeyboardInterrupt):
            self._record_exception(exc, tb, "interrupted (KeyboardInterrupt)")
            self.finish("killed")
        elif isinstance(exc, SystemExit) and code_of(exc.code) == 0:
            self.finish("completed")
        else:
            if isinstance(exc, SystemExit):
                self._exit_code = code_of(exc.code)  # as 'gitlog run' records it
            self._record_exception(exc, tb)
            self.finish("failed")
        return False

    def _record_exception(self, exc: BaseException, tb: Any, message: str | None = None) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        fields: dict[str, Any] = {"exception": type(exc).__name__, "traceback": text}
        try:
            from .debugging import failure_context

            fields.update(failure_context(self))
        except Exception:
            pass
        from .debugging import exception_text

        self._recorder.append((_time(), "error", message or exception_text(exc),
                               fields, fields.get("step")))

    def _uncaught(self, exc: BaseException, tb: Any) -> None:
        """An exception no one caught ends the main thread (``exitstatus.ExceptHook``)."""
        if self._finished or self._pid != os.getpid():
            return
        self._record_exception(exc, tb)
        if isinstance(exc, KeyboardInterrupt):
            self.finish("killed")
        else:
            self._exit_code = 1  # Python's, for an uncaught exception
            self.finish("failed")

    def _end_with_exit(self, code: int | None, status: Any) -> None:
        """Finish a run the script left open when the process ends: ``failed`` with
        the exit code of a ``sys.exit(N)`` the main module ended with (N not 0). Under
        ``gitlog run`` (not the owner) that one records the exit."""
        if not code or not self.owner:
            self.finish("completed")
            return
        self._exit_code = code
        shown = f": {status}" if isinstance(status, str) and status else ""
        self._recorder.append((_time(), "error", f"script exited with code {code}{shown}",
                               {"exit_code": code}, None))
        self.finish("failed")


def unstored_fix(exc: BaseException) -> str:
    """What to do about a run ``finish()`` could not commit (its journal is kept)."""
    return getattr(exc, "hint", None) or "run 'gitlog recover' to commit it"

"""The live journal of a run: ``.git/gitlog/runs/<run-id>/``.

Everything in it is append-only or written once atomically, so a process killed at any
moment leaves a journal that ``gitlog recover`` can commit, and two processes (``gitlog
run`` and the training script it started) can write into one journal at once: each
append is a single ``write()`` of whole lines on a file opened with ``O_APPEND``.

    meta.json         written once at start: id, experiment, code snapshot, command, ...
    lock              flock()ed by the owning process while the run is live
    status.jsonl      status records (child's and owner's)
    params.jsonl      param updates, merged in order
    data.jsonl        data descriptors      model.jsonl   model descriptors
    artifacts.jsonl   artifacts tracked with DVC (name, type, path, md5, size)
    info.jsonl        run-level facts (resource use, exit code)
    events.jsonl      the run's events, final format
    metrics/NAME.tsv  step series, final format (header ``timestamp step COLUMN``:
                      ``series_column``)
    committed         the commit (or path) the run went to; the journal is then removed
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .values import shortened

JSON_FILES = ("status", "params", "data", "model", "info", "plots", "artifacts")
# Metric files kept open between flushes. A run with more series opens the others for
# each write: a process may hold only 1,024 files (ulimit -n), and a run of thousands of
# series, each kept open, used them all (its flushes failed and lost their points, then
# its commit failed).
MAX_OPEN_SERIES = 128
# Columns a series' value may not be named after: gitlog's own two, and the fields DVC's
# plots add to each point (``rev``; ``filename`` and ``field`` in its HTML). A value
# column so named was lost in ``dvc plots show`` (``x/step``'s values replaced the steps).
_TAKEN_COLUMNS = frozenset({"timestamp", "step", "rev", "filename", "field"})


def series_column(name: str) -> str:
    """The value column of metric ``name``'s series: its last group (``loss`` for
    ``train/loss``, as DVCLive names it), ``value`` when that is a column taken."""
    column = name.rsplit("/", 1)[-1]
    return "value" if column in _TAKEN_COLUMNS else column


def runs_dir(gitlog_dir: Path) -> Path:
    return gitlog_dir / "runs"


MAX_LISTED = 20  # an array field up to this size is written as a list, else as its text


def dumps(obj: Any) -> str:
    """One JSON line; NaN and infinities stay as Python's json writes them (DVC reads it)."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_jsonable)
    except (TypeError, ValueError):  # a tuple as a key, a cycle: made plain, not lost
        return json.dumps(_plain(obj, ()), ensure_ascii=False, separators=(",", ":"),
                          default=_jsonable)


def _plain(obj: Any, inside: tuple[int, ...]) -> Any:
    """``obj`` with keys json cannot write as their text and a container holding itself
    as ``"<cycle>"``."""
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in inside:
            return "<cycle>"
        inside = (*inside, id(obj))
        if isinstance(obj, dict):
            return {k if isinstance(k, (str, int, float, bool)) or k is None else str(k):
                    _plain(v, inside) for k, v in obj.items()}
        return [_plain(v, inside) for v in obj]
    return obj


def _jsonable(obj: Any) -> Any:
    """What json cannot write (an event's fields): a numpy or torch scalar as its number,
    a small array as a list (a float32 number as its shortest text reads, as in params),
    a set as a sorted list, anything else as its text."""
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple) and callable(getattr(obj, "tolist", None)):
        size = 1
        for dim in shape:
            size *= int(dim)
        if size <= MAX_LISTED:
            try:
                return shortened(obj.tolist(), getattr(obj, "dtype", None))
            except Exception:
                pass
    try:
        if isinstance(obj, (set, frozenset)):
            return sorted(obj, key=repr)
        return str(obj)
    except Exception as exc:  # the value's own failure: the event is kept without it
        return f"<str failed: {type(exc).__name__}>"


def write_whole(fd: int, data: bytes) -> None:
    """Append all of ``data`` or none of it. A full disk (or ``ulimit -f``) lets a
    ``write()`` write part of it and return; the next flush then appended whole lines
    to that fragment, a wrong point in the series, and the rest was lost unsaid. The
    fragment is cut off again and the error raised (the run warns, training goes on)."""
    done = os.write(fd, data)
    while done < len(data):
        try:
            written = os.write(fd, data[done:])
            if written == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, os.fstat(fd).st_size - done)
            raise
        done += written


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tsv: dict[str, int] = {}
        self._lock_fd: int | None = None
        # what appends could not write (a full disk): points per series, lines per file
        # ('events', 'params', ...), and the first error; ``losses.note_losses`` says so
        self.lost_points: dict[str, int] = {}
        self.lost_records: dict[str, int] = {}
        self.lost_reason: OSError | None = None

    @property
    def run_id(self) -> str:
        return self.path.name

    # -- creation and ownership ----------------------------------------------
    def create(self, meta: dict[str, Any]) -> None:
        (self.path / "metrics").mkdir(parents=True, exist_ok=False)
        self.write_atomic("meta.json", json.dumps(meta, indent=1, default=str).encode())

    def lock(self) -> bool:
        """Take the owner's lock; False if a live process holds it."""
        try:
            fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # removed meanwhile: nobody's to lock
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def is_live(self) -> bool:
        """True while some process holds the lock (the run's owner is alive)."""
        if self._lock_fd is not None:
            return True
        if self.lock():
            self.unlock()
            return False
        return True

    def write_atomic(self, name: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path)
        try:
            try:
                write_whole(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, self.path / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- appends --------------------------------------------------------------
    def append(self, name: str, text: str) -> None:
        if not text:
            return
        try:
            fd = os.open(self.path / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                write_whole(fd, text.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as exc:
            self._lose(self.lost_records, name.removesuffix(".jsonl"), text, exc)
            raise

    def append_json(self, name: str, obj: Any) -> None:
        assert name in JSON_FILES
        self.append(f"{name}.jsonl", dumps(obj) + "\n")

    def append_metric_rows(self, name: str, text: str) -> None:
        try:
            self._append_rows(name, text)
        except OSError as exc:
            self._lose(self.lost_points, name, text, exc)
            raise

    def _lose(self, tally: dict[str, int], name: str, text: str, exc: OSError) -> None:
        tally[name] = tally.get(name, 0) + text.count("\n")
        if self.lost_reason is None:
            self.lost_reason = exc

    def _append_rows(self, name: str, text: str) -> None:
        fd = self._tsv.get(name)
        if fd is not None:
            write_whole(fd, text.encode())
            return
        fd = self._open_tsv(name)
        if len(self._tsv) < MAX_OPEN_SERIES:
            self._tsv[name] = fd
            write_whole(fd, text.encode())
            return
        try:
            write_whole(fd, text.encode())
        finally:
            os.close(fd)

    def _open_tsv(self, name: str) -> int:
        path = self.path / "metrics" / f"{name}.tsv"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created with its header in one step, so a second writer never sees a
            # file without one.
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                try:
                    write_whole(fd, f"timestamp\tstep\t{series_column(name)}\n".encode())
                finally:
                    os.close(fd)
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        return os.open(path, os.O_WRONLY | os.O_APPEND)

    def close(self) -> None:
        for fd in self._tsv.values():
            os.close(fd)
        self._tsv.clear()

    # -- reading --------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return json.loads((self.path / "meta.json").read_text(encoding="utf-8"))

    def records(self, name: str) -> list[Any]:
        """Every record of ``<name>.jsonl``; a torn last line (a kill mid-write) and a line
        that is not a JSON object (a disk error) are dropped."""
        path = self.path / f"{name}.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def metric_files(self) -> Iterator[tuple[str, Path]]:
        base = self.path / "metrics"
        for path in sorted(base.rglob("*.tsv")):
            yield path.relative_to(base).as_posix()[:-4], path

    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    def mark_committed(self, where: str) -> None:
        self.write_atomic("committed", where.encode())

    def committed(self) -> str | None:
        path = self.path / "committed"
        return path.read_text().strip() if path.exists() else None

    def remove(self) -> None:
        """Delete the journal. ``meta.json`` goes first and the lock last, so a ``gitlog
        recover`` that takes the lock next finds no journal rather than half of one."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path / "meta.json")
        shutil.rmtree(self.path, ignore_errors=True)
        self.unlock()

    def gone(self) -> bool:
        """True when the journal was removed (another ``gitlog recover`` stored it)."""
        return not (self.path / "meta.json").exists()


def all_journals(gitlog_dir: Path) -> list[Journal]:
    base = runs_dir(gitlog_dir)
    if not base.is_dir():
        return []
    return [Journal(p) for p in sorted(base.iterdir())
            if p.is_dir() and (p / "meta.json").exists()]

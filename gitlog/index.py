"""The query cache: ``.git/gitlog/index.sqlite``, keyed by commit id.

A run's contents never change once committed, so what a commit holds (``facts.Facts``, its
metrics.json as committed), the code files changed between two run commits, a step-series
value, params: all are cached by commit id and stay valid. Walk results are cached too,
keyed by everything that decides them (the resolved revisions, the options, the shallow
boundary): the linked runs, their code changes, and the columns computed over them (a
metric's values and changes; ``history``'s rows, in pieces, with a note naming the last
walk of the same revisions so the next one can add to it), so an unchanged repository
answers without walking or reading a run.

Rows are packed text in tables without secondary indexes: inserting 10,000 facts costs
~10 ms, where one column per field and a primary key cost ~60 ms; every query loads the
whole table anyway. A cache from another schema or log directory, or one that sqlite
cannot read, is thrown away and rebuilt; writes are best-effort (a locked or read-only
cache never fails a query, it is just not filled).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from .facts import Facts

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

SCHEMA = "14"  # 14: .gitignore files are not code changes (cached code changes counted them)
# 13: a metrics.json that is no object is named in JSON's words (null, array)
# 12: a run.yaml taken unchanged from the first parent is not the commit's
FILE = "index.sqlite"
KEEP_WALKS = 16
KEEP_USED = 600.0  # seconds: a walk used this recently is kept (a query may be reading it)
# the walks beyond the KEEP_WALKS used last go, unless used within KEEP_USED seconds
_EVICT = ("DELETE FROM walks WHERE used < ? AND key NOT IN "
          "(SELECT key FROM walks ORDER BY used DESC LIMIT ?)")
LOCK_WAIT = 1.0  # seconds a write waits for another process's
SEP = "\x1f"
_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS commits(commit_id TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS changes(pair TEXT, files BLOB);
CREATE TABLE IF NOT EXISTS walks(key TEXT PRIMARY KEY, used REAL, runs TEXT, warnings TEXT,
                                 changes TEXT);
CREATE TABLE IF NOT EXISTS columns(key TEXT PRIMARY KEY, walk TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS steps(commit_id TEXT, metric TEXT, which TEXT, value,
                                 PRIMARY KEY(commit_id, metric, which));
CREATE TABLE IF NOT EXISTS details(commit_id TEXT PRIMARY KEY, params TEXT, code_tree TEXT);
"""


def pack(f: Facts) -> str:
    text = (f"{f.time}{SEP}{f.date}{SEP}{f.author}{SEP}{f.subject}{SEP}{'1' if f.has_run else '0'}"
            f"{SEP}{f.run_id or ''}{SEP}{f.experiment or ''}{SEP}{f.status or ''}{SEP}"
            f"{f.code_commit or ''}{SEP}{f.metrics_blob or ''}{SEP}{f.error or ''}{SEP}"
            f"{f.text or ''}")
    if text.count(SEP) != 11:  # a field held the separator: drop it from the text fields
        def clean(value: str | None) -> str:
            return (value or "").replace(SEP, " ")
        text = SEP.join((str(f.time), f.date, clean(f.author), clean(f.subject),
                         "1" if f.has_run else "0", clean(f.run_id), clean(f.experiment),
                         clean(f.status), clean(f.code_commit), clean(f.metrics_blob),
                         clean(f.error), clean(f.text)))
    return text


def unpack(commit: str, data: str, shared: dict[str, str] | None = None) -> Facts:
    """Facts from a packed row; ``shared`` keeps one copy of values many rows repeat."""
    t, date, author, subject, has_run, run_id, exp, status, code, blob, error, text = \
        data.split(SEP)
    if shared is not None:
        author = shared.setdefault(author, author)
        exp = shared.setdefault(exp, exp)
        status = shared.setdefault(status, status)
    return Facts(commit, int(t), date, author, subject, has_run == "1", run_id or None,
                 exp or None, status or None, code or None, blob or None, error or None,
                 text or None)


class CommitSet:
    """Commit ids held as a sorted array of their first 60 bits (``key``): 8 bytes a
    commit, where a set of the ids takes some 150. An id whose first 15 hex digits
    another commit shares looks cached too: its facts are read again when a query needs
    them."""

    def __init__(self, keys: Any) -> None:
        self.keys = keys  # sorted

    @staticmethod
    def key(commit: str) -> int:
        return int(commit[:15], 16)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, commit: str) -> bool:
        from bisect import bisect_left

        key = self.key(commit)
        i = bisect_left(self.keys, key)
        return i < len(self.keys) and self.keys[i] == key


class Index:
    """One open cache; every method degrades to 'not cached' rather than failing."""

    def __init__(self, gitlog_dir: Path, log_dir: str, *, rebuild: bool = False,
                 use: bool = True) -> None:
        """``use=False``: open nothing; every read misses and every write is refused."""
        self.path = Path(gitlog_dir) / FILE
        self.log_dir = log_dir
        self.rebuilt = False
        self.busy = False  # another process held the write lock: nothing more is written
        self.problem: str | None = None  # why the cache could not be opened or written
        # the log_dir the cache was built for when the config's has changed since: a
        # query tells the user once that the runs logged there are not shown
        self.moved_from: str | None = None
        self.db: sqlite3.Connection | None = None
        if not use:
            return
        try:
            if rebuild:
                self._remove()
            self._open()
        except (sqlite3.Error, OSError):
            self._reset()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a write waits up to LOCK_WAIT for another process's (they take milliseconds);
        # after one such wait in vain, the cache is left alone (``busy``)
        db = sqlite3.connect(self.path, timeout=LOCK_WAIT, isolation_level=None)
        # A cache: losing the last writes on a power cut is fine; corruption is detected.
        # synchronous=OFF first: switching a new file to WAL otherwise waits for an fsync
        # (milliseconds on an idle disk, up to a second on a busy one)
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA cache_size=-256")  # KiB: queries read the tables once, in order
        return db

    def _open(self) -> None:
        db = self._connect()
        try:
            db.executescript(_TABLES)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            wanted = {"schema": SCHEMA, "log_dir": self.log_dir}
            if meta and meta != wanted:
                if meta.get("log_dir") not in (None, self.log_dir):
                    self.moved_from = meta["log_dir"]
                db.close()
                self._remove()
                self.rebuilt = True
                db = self._connect()
                db.executescript(_TABLES)
                meta = {}
            if not meta:
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", wanted.items())
        except sqlite3.Error:
            db.close()
            raise
        self.db = db

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                Path(str(self.path) + suffix).unlink(missing_ok=True)

    def _reset(self) -> None:
        """A corrupt or foreign file: drop it and start empty (queries refill it)."""
        self.close()
        self._remove()
        self.rebuilt = True
        try:
            self._open()
        except (sqlite3.Error, OSError) as err:
            self.db = None
            self.problem = str(err)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------
    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        if self.db is None:
            return []
        try:
            return self.db.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError:
            return []
        except sqlite3.DatabaseError:
            self._reset()
            return []

    def _write(self, statements: list[tuple[str, Iterable[tuple]]]) -> bool:
        """Run ``(sql, rows)`` pairs in one transaction; False if the cache refused them."""
        if self.db is None or self.busy:
            return False
        try:
            self.db.execute("BEGIN IMMEDIATE")
            for sql, rows in statements:
                self.db.executemany(sql, rows)
            self.db.execute("COMMIT")
            return True
        except sqlite3.OperationalError as err:  # locked by another writer, read-only: skip
            self.busy = "locked" in str(err) or "busy" in str(err)
            self.problem = str(err)
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
        except sqlite3.DatabaseError:
            self._reset()
        return False

    # -- facts -----------------------------------------------------------------
    def facts(self) -> dict[str, Facts]:
        """Every cached commit's facts."""
        out: dict[str, Facts] = {}
        shared: dict[str, str] = {}
        if self.db is None:
            return out
        try:
            for commit, data in self.db.execute("SELECT commit_id, data FROM commits"):
                try:
                    out[commit] = unpack(commit, data, shared)
                except (ValueError, TypeError, AttributeError):
                    continue  # a damaged row is simply not cached
        except sqlite3.OperationalError:
            return {}
        except sqlite3.DatabaseError:
            self._reset()
            return {}
        return out

    def put_facts_rows(self, rows: list[tuple[str, str]]) -> bool:
        """Store ``(commit, pack(facts))`` rows."""
        return self._write([("INSERT INTO commits VALUES (?, ?)", rows)])

    def put_facts(self, facts: Iterable[Facts]) -> bool:
        return self._write([("INSERT INTO commits VALUES (?, ?)",
                             [(f.commit, pack(f)) for f in facts])])

    def count(self) -> int:
        return sum(1 for f in self.facts().values() if f.has_run)

    # -- walks: the linked runs of one set of revisions ------------------------
    def walk(self, key: str) -> tuple[str, str, str | None] | None:
        """(runs, warnings, code changes) of walk ``key`` as stored (JSON texts); None if
        not cached."""
        rows = self._read("SELECT runs, warnings, changes FROM walks WHERE key = ?", (key,))
        if not rows:
            return None
        self._write([("UPDATE walks SET used = ? WHERE key = ?", [(time.time(), key)])])
        return rows[0]

    def put_walk(self, key: str, runs: str, warnings: str, rows: list[tuple[str, str]],
                 changes: str | None = None) -> bool:
        """Store new facts (``(commit, pack(facts))`` rows) and a walk's linked runs
        together; True if stored."""
        return self._write([
            ("INSERT INTO commits VALUES (?, ?)", rows),
            ("INSERT OR REPLACE INTO walks VALUES (?, ?, ?, ?, ?)",
             [(key, time.time(), runs, warnings, changes)]),
            (_EVICT, [(time.time() - KEEP_USED, KEEP_WALKS)]),
            ("DELETE FROM columns WHERE walk NOT IN (SELECT key FROM walks)", [()]),
        ])

    def forget_walk(self, key: str) -> bool:
        """Drop walk ``key`` and everything kept with it (its columns, rows and notes)."""
        return self._write([("DELETE FROM walks WHERE key = ?", [(key,)]),
                            ("DELETE FROM columns WHERE walk = ?", [(key,)])])

    def touch_walk(self, key: str) -> bool:
        """Mark walk ``key`` used now: its stored results are being read."""
        return self._write([("UPDATE walks SET used = ? WHERE key = ?", [(time.time(), key)])])

    def keep_walk(self, key: str, warnings: str, rows: list[tuple[str, str]]) -> bool:
        """Store new facts and register walk ``key`` (used now) without its linked runs:
        a walk whose result is kept elsewhere (history's rows), which keeps runs another
        query stored for it."""
        return self._write([
            ("INSERT INTO commits VALUES (?, ?)", rows),
            ("INSERT INTO walks VALUES (?, ?, '', ?, NULL) ON CONFLICT(key) DO UPDATE "
             "SET used = excluded.used, warnings = excluded.warnings",
             [(key, time.time(), warnings)]),
            (_EVICT, [(time.time() - KEEP_USED, KEEP_WALKS)]),
            ("DELETE FROM columns WHERE walk NOT IN (SELECT key FROM walks)", [()]),
        ])

    def cached_commits(self) -> CommitSet:
        """The commits whose facts are cached, as a ``CommitSet``: read in order, as they
        come, so no id is held."""
        from array import array

        keys = array("q")
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error, ValueError):
                for (commit,) in self.db.execute(
                        "SELECT commit_id FROM commits ORDER BY commit_id"):
                    keys.append(CommitSet.key(commit))
        return CommitSet(keys)

    def put_walk_changes(self, key: str, changes: str) -> bool:
        return self._write([("UPDATE walks SET changes = ? WHERE key = ?", [(changes, key)])])

    def column(self, walk: str, name: str) -> str | None:
        """A column of values computed over walk ``walk`` (a metric's value in each run)."""
        rows = self._read("SELECT data FROM columns WHERE key = ?", (f"{walk}\x1d{name}",))
        return rows[0][0] if rows else None

    def note(self, name: str) -> str | None:
        """A value kept with a walk under a name of its own (the walk it goes with may
        change; it is dropped with that walk)."""
        rows = self._read("SELECT data FROM columns WHERE key = ?", (name,))
        return rows[0][0] if rows else None

    def copy_columns(self, walk: str, to: str, names: list[str]) -> bool:
        """Columns ``names`` of walk ``walk`` copied to walk ``to`` (in the index: no
        value passes through Python); True if all were there and are copied."""
        if not names:
            return True
        rows = self._read(f"SELECT count(*) FROM columns WHERE key IN "
                          f"({', '.join('?' * len(names))})",
                          [f"{walk}\x1d{n}" for n in names])
        if not rows or rows[0][0] != len(names):
            return False
        return self._write([("INSERT OR REPLACE INTO columns SELECT ?, ?, data FROM columns "
                             "WHERE key = ?", [(f"{to}\x1d{n}", to, f"{walk}\x1d{n}")
                                               for n in names])])

    def put_column(self, walk: str, name: str, data: str) -> bool:
        return self.put_columns(walk, [(name, data)])

    def put_columns(self, walk: str, items: Iterable[tuple[str, str]],
                    notes: Iterable[tuple[str, str]] = ()) -> bool:
        """Several columns of walk ``walk`` in one transaction, ``(name, data)`` each, and
        notes that go with it (see ``note``)."""
        return self._write([("INSERT OR REPLACE INTO columns VALUES (?, ?, ?)",
                             [*((f"{walk}\x1d{name}", walk, data) for name, data in items),
                              *((name, walk, data) for name, data in notes)])])

    # -- code changes between two run commits ----------------------------------
    def changes(self) -> dict[tuple[str, str], list[str]]:
        out = {}
        for pair, files in self._read("SELECT pair, files FROM changes"):
            old, _, new = pair.partition(" ")
            out[(old, new)] = files.decode("utf-8", "surrogateescape").split("\0") \
                if files else []
        return out

    def put_changes(self, items: dict[tuple[str, str], list[str]]) -> bool:
        return self._write([("INSERT INTO changes VALUES (?, ?)",
                             [(f"{a} {b}", "\0".join(files).encode("utf-8", "surrogateescape"))
                              for (a, b), files in items.items()])])

    # -- step-series values ----------------------------------------------------
    def steps(self, which: str) -> dict[tuple[str, str], float | None]:
        return {(c, m): v for c, m, v in self._read(
            "SELECT commit_id, metric, value FROM steps WHERE which = ?", (which,))}

    def put_steps(self, which: str, values: dict[tuple[str, str], float | None]) -> bool:
        return self._write([("INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?)",
                             [(c, m, which, v) for (c, m), v in values.items()])])

    # -- params and code trees (read on demand: best --where, bisect) ----------
    def details(self) -> dict[str, tuple[str | None, str | None]]:
        return {c: (p, t) for c, p, t in self._read(
            "SELECT commit_id, params, code_tree FROM details")}

    def put_details(self, items: dict[str, tuple[str | None, str | None]]) -> bool:
        return self._write([("INSERT OR REPLACE INTO details VALUES (?, ?, ?)",
                             [(c, p, t) for c, (p, t) in items.items()])])

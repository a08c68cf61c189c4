"""The rows of a ``gitlog history`` walk kept in the index: written a piece (``CHUNK``
lines) at a time as the walk makes them, read back piece by piece, so an unchanged
repository answers without walking and a query holds one piece, however many runs
there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from .errors import GitlogError
from .index import Index
from .rowline import Layout, MetricSpec

# 7: no -0.0 value or delta; 6: deltas to 15 digits, a % under 0.1 to 2 (5: booleans are
# values)
ROWS_VERSION = "7"
CHUNK = 500  # lines a stored piece: a walk's rows are written and read piece by piece

class Rows:
    """The lines of one walk (a list, or ``StoredLines``) and the warnings it gave
    (malformed metrics); ``stored``: lines before those, in the index already
    (``Pieces``)."""

    def __init__(self, lines: list[str] | StoredLines, warnings: list[str],
                 stored: int = 0, frontier: dict[str, tuple] | None = None) -> None:
        self.lines = lines
        self.warnings = warnings
        self.stored = stored
        self.frontier = frontier  # the linking entries of the walk's tips (``make_rows``)


class CacheChanged(GitlogError):
    """Stored rows went from the index while they were read (another process rebuilt it)."""

    def __init__(self) -> None:
        super().__init__("the query cache changed while it was read",
                         hint="run the command again")


class StoredLines:
    """A walk's lines as the index holds them, read again piece by piece each time they
    are iterated: a warm query holds one piece at a time, however many runs there are.
    ``again``: the same lines made by walking again without the cache, for when a piece
    went from the index meanwhile (another process rebuilt it); they are held from then on."""

    def __init__(self, index: Index, key: str, name: str, count: int) -> None:
        self.where = (index.path.parent, index.log_dir)
        self.key, self.name, self.count = key, name, count
        self.index: Index | None = None  # opened on the first pass, kept for the next
        self.again: Callable[[], list[str] | StoredLines] | None = None
        self.held: list[str] | None = None

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        if self.held is not None:
            yield from self.held
            return
        if self.index is None:
            self.index = Index(*self.where)
        last = None  # the last piece read
        for start in range(0, self.count, CHUNK):
            text = self.index.column(self.key, piece_name(self.name, start))
            if text is None:  # gone since it was checked: the rest comes from a new walk
                self.held = self._walked_again(start, last)
                yield from self.held[start:]
                return
            last = text.split("\n")
            yield from last

    def _walked_again(self, start: int, last: list[str] | None) -> list[str]:
        """The lines walked again; they must go on from those read (a branch that moved
        meanwhile would give others)."""
        lines = self.again() if self.again is not None else None
        if not isinstance(lines, list) or len(lines) != self.count or \
                (last is not None and lines[start - len(last):start] != last):
            raise CacheChanged()
        return lines


def piece_name(name: str, start: int) -> str:
    """The column holding the stored lines of rows ``name`` from line ``start`` on."""
    return f"{name}\x1d{start}"


def read_pieces(index: Index, key: str, name: str, count: int) -> Iterator[list[str]]:
    """The first ``count`` stored lines of rows ``name`` of walk ``key``, a piece at a
    time; a piece gone since it was written or checked (another process rebuilt the
    index) is an error, never a shorter table."""
    for start in range(0, count, CHUNK):
        text = index.column(key, piece_name(name, start))
        if text is None:
            raise CacheChanged()
        yield text.split("\n")


def cache_key(specs: list[MetricSpec]) -> str:
    return "rows" + ROWS_VERSION + "\x1d" + "\x1d".join(s.key() for s in specs)


def cached(index: Index, key: str, specs: list[MetricSpec]) -> Rows | None:
    """The rows of walk ``key`` as stored (read back when iterated), or None (not stored,
    or not readable: every piece is checked first)."""
    name = cache_key(specs)
    head = index.column(key, name)
    if head is None:
        return None
    valid = Layout(len(specs)).valid
    try:
        count, warnings = json.loads(head)
        seen = 0
        for piece in range(0, count, CHUNK):
            text = index.column(key, piece_name(name, piece))
            if text is None:
                return None
            lines = text.split("\n")
            if not all(map(valid, lines)):
                return None  # damaged: walk again
            seen += len(lines)
    except (ValueError, TypeError):
        return None
    if seen != count:
        return None
    return Rows(StoredLines(index, key, name, count), warnings)


def store_rows(index: Index, key: str, specs: list[MetricSpec], rows: Rows,
           tip: tuple[str, str] | None = None, written: int = 0) -> bool:
    """Keep a walk's rows: a head (count, warnings), then the lines in pieces (the first
    ``written`` lines are stored already: ``Pieces``); ``tip``: (base, resolved) of the
    walk, so the next walk of the same revisions can add to it (with the linking entries
    of the walk's tips, ``Rows.frontier``). The head goes last, in the same transaction as
    the last pieces: rows without it are never read."""
    name = cache_key(specs)
    lines = rows.lines
    assert isinstance(lines, list)  # rows just made
    return index.put_columns(key, [*(
        (piece_name(name, written + piece), "\n".join(lines[piece:piece + CHUNK]))
        for piece in range(0, len(lines), CHUNK)),
        (name, json.dumps([written + len(lines), rows.warnings]))],
        [(tip_name(tip[0], specs), json.dumps([key, tip[1], _frontier_note(rows.frontier)]))]
        if tip else [])


def _frontier_note(frontier: dict[str, tuple] | None) -> dict[str, list] | None:
    """The tips' linking entries as JSON (a code identity is a hash of this process:
    not kept, so the next run on a tip's line is diffed)."""
    if frontier is None:
        return None
    return {commit: [first, list(latest), ident]
            for commit, (first, _, latest, ident) in frontier.items()}


class Pieces:
    """A walk's lines written to the index a piece (``CHUNK`` lines) at a time as they are
    made, so a walk holds one piece, however many runs it meets. A piece is written whole
    (its code changes filled in); the head that makes the rows readable (``store_rows``) is
    written at the end."""

    def __init__(self, index: Index, key: str, name: str) -> None:
        self.index, self.key, self.name = index, key, name
        self.written = 0  # lines stored

    def write(self, lines: list[str]) -> bool:
        """Store the next piece; False if the cache refused it."""
        if not self.index.put_columns(self.key, [(piece_name(self.name, self.written),
                                                  "\n".join(lines))]):
            return False
        self.written += len(lines)
        return True

    def read(self) -> list[str]:
        """The lines stored so far."""
        return [line for lines in read_pieces(self.index, self.key, self.name, self.written)
                for line in lines]


def tip_name(base: str, specs: list[MetricSpec]) -> str:
    """The index note naming the latest walk of a set of revisions for these metrics
    (its tips' entries hold their values: another metric's walk cannot be added to)."""
    return "tip\x1d" + base + "\x1d" + cache_key(specs)


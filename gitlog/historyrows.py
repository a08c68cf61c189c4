"""The rows of ``gitlog history``, made while git walks: one text line a run, oldest first.

Records come from ``walk`` oldest first (parents before children), so each run is linked
to the previous run on its line, and its metrics compared with that run's, the moment it
arrives: what is kept per commit is one entry of the map linking needs. A row is one line
of ``\\x1f``-separated fields (``Layout``): the raw values (what JSON and the Python API
give), then the table's cells, formatted once. The lines of a walk are stored in the
index as they are, so an unchanged repository answers without walking, and a table is
laid out from them with string operations only.

Code changes are known at once when a run ran the same code as the previous run (their
code identities match); the others are diffed by a ``git diff-tree --stdin`` fed while
the walk goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from .config import Config
from .display import visible
from .errors import GitlogError
from .facts import log_paths
from .git import Repo, run_git
from .index import SEP as SEP_FACTS
from .index import Index, pack
from .linking import Progress, source_experiment

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from .steps import StepPoints

ROWS_VERSION = "5"  # 5: booleans are values (4: float noise is no change)
SEP = "\x1f"
_PATHS = "\x1e"  # between the paths of a raw code-changes field
_FIRST = "\x15"  # raw code changes of a line's first run: nothing to compare with
_DIFF = "\x16"  # code changes to be filled from the diff at the end
_ESC = "\x02"  # a field with a control character (these among them) is JSON after it


class MetricSpec:
    """One ``--metric``: its name, every name of its series, which way is better (lower
    or not) and which point (a step, parse_step; None for the summary value)."""

    __slots__ = ("name", "names", "lower", "which")

    def __init__(self, name: str, names: tuple[str, ...], lower: bool,
                 which: str | None = None) -> None:
        self.name, self.names, self.lower, self.which = name, names, lower, which

    def key(self) -> str:
        return json.dumps([list(self.names), self.which, self.lower])


class Layout:
    """Where each field sits in a line of ``metrics`` metrics.

    Raw: commit, previous, time, run, status, author, code changes, then value, delta
    and % of each metric. Table cells (from ``display``): short commit, date,
    experiment, subject, then value, delta, % and verdict of each metric, then the code
    changes."""

    def __init__(self, metrics: int) -> None:
        self.metrics = metrics
        self.display = 7 + 3 * metrics
        self.fields = self.display + 5 + 4 * metrics

    def time(self, line: str) -> int:
        return int(line.split(SEP, 3)[2])

    def value(self, line: str, metric: int) -> int | float | None:
        """The value of the ``metric``-th metric (by position)."""
        at = 7 + 3 * metric
        return number(line.split(SEP, at + 1)[at])

    def cells(self, line: str) -> list[tuple]:
        """(value, delta, pct, verdict) of each metric, numbers as numbers."""
        return self._cells(line.split(SEP))

    def _cells(self, f: list[str]) -> list[tuple]:
        d = self.display + 7  # a verdict is a plain word: never escaped
        return [(number(f[7 + 3 * m]), number(f[8 + 3 * m]), number(f[9 + 3 * m]),
                 f[d + 4 * m] or None) for m in range(self.metrics)]

    def table(self, line: str) -> list[str]:
        """The table's cells."""
        cells = line.split(SEP)[self.display:]
        if _ESC in line:  # (a field with a control character: see _esc)
            cells = [visible(_text(c)) for c in cells]
        return cells

    def record(self, line: str) -> tuple[str, str | None, str, str, str, str, str | None,
                                         str | None, str, list[str] | None, list[tuple]]:
        """(commit, previous, date, experiment, subject, author, run, status, time,
        code changes, per-metric cells): numbers as numbers, text as stored."""
        f = line.split(SEP)
        code = f[6]  # its paths are escaped one by one
        if _ESC in line:
            f = [x if i == 6 else _text(x) for i, x in enumerate(f)]
        d = self.display
        changes = None if code == _FIRST else [] if code == "" else \
            [_text(p) for p in code.split(_PATHS)]
        return (f[0], f[1] or None, f[d + 1], f[d + 2], f[d + 3], f[5], f[3] or None,
                f[4] or None, f[2], changes, self._cells(f))

    def valid(self, line: str) -> bool:
        return line.count(SEP) == self.fields - 1

    def narrow(self, line: str, keep: list[int]) -> str:
        """``line`` as a line of the metrics ``keep`` (by position) alone: exact when the
        others have no value in any row (then no delta or code change depends on them)."""
        f = line.split(SEP)
        d, m = self.display, self.metrics
        return SEP.join([*f[:7], *(f[7 + 3 * i + k] for i in keep for k in range(3)),
                         *f[d:d + 4], *(f[d + 4 + 4 * i + k] for i in keep for k in range(4)),
                         *f[d + 4 + 4 * m:]])


class Narrowed:
    """Lines of several metrics read as lines of some of them (``Layout.narrow``), again
    at each pass, as the lines themselves are."""

    def __init__(self, lines: list[str] | StoredLines, metrics: int, keep: list[int]) -> None:
        self.lines, self.keep = lines, keep
        self.narrow = Layout(metrics).narrow

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[str]:
        narrow, keep = self.narrow, self.keep
        return (narrow(line, keep) for line in self.lines)


def number(text: str) -> int | float | bool | None:
    """A stored number: as ``repr`` wrote it (an int stays an int), or true/false."""
    if not text:
        return None
    if "." in text or "e" in text or "n" in text:
        try:
            return float(text)
        except ValueError:  # (costs nothing when not raised)
            return text == "true"
    return int(text)


def _text(field: str) -> str:
    return json.loads(field[1:]) if field[:1] == _ESC else field


def _esc(text: str) -> str:
    """``text`` as a field of a stored line: as it is, or, when it holds a control
    character (a separator, a line break, an escape sequence), as JSON after ``_ESC``."""
    return text if text.isprintable() else _ESC + json.dumps(text)


def _shown(value: int | float) -> str:
    return f"{value:.6g}" if value.__class__ is float else str(value)


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
            text = self.index.column(self.key, _piece(self.name, start))
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


def _piece(name: str, start: int) -> str:
    """The column holding the stored lines of rows ``name`` from line ``start`` on."""
    return f"{name}\x1d{start}"


def _read_pieces(index: Index, key: str, name: str, count: int) -> Iterator[list[str]]:
    """The first ``count`` stored lines of rows ``name`` of walk ``key``, a piece at a
    time; a piece gone since it was written or checked (another process rebuilt the
    index) is an error, never a shorter table."""
    for start in range(0, count, CHUNK):
        text = index.column(key, _piece(name, start))
        if text is None:
            raise CacheChanged()
        yield text.split("\n")


class Kept:
    """The lines a query keeps (``keep``: which; ``n``: only the last n), read from
    ``lines`` again each time they are iterated."""

    def __init__(self, lines: list[str] | StoredLines | Kept | Narrowed,
                 keep: Callable[[str], bool] | None = None, n: int | None = None) -> None:
        self.lines, self.keep = lines, keep
        total = len(lines) if keep is None else sum(1 for line in lines if keep(line))
        shown = total if n is None else max(0, min(n, total))
        self.skip = total - shown
        self.count = shown

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        keep, skip, left = self.keep, self.skip, self.count
        for line in self.lines:
            if left == 0:
                return
            if keep is not None and not keep(line):
                continue
            if skip:
                skip -= 1
                continue
            left -= 1
            yield line


def _cache_key(specs: list[MetricSpec]) -> str:
    return "rows" + ROWS_VERSION + "\x1d" + "\x1d".join(s.key() for s in specs)


CHUNK = 500  # lines a stored piece: a walk's rows are written and read piece by piece
# packed objects from which a walk counts children (``walk.Children``): a run commit
# brings about 6 objects, so from some 3,000 runs; below, the linking map stays small
COUNT_CHILDREN_FROM = 20_000


def cached(index: Index, key: str, specs: list[MetricSpec]) -> Rows | None:
    """The rows of walk ``key`` as stored (read back when iterated), or None (not stored,
    or not readable: every piece is checked first)."""
    name = _cache_key(specs)
    head = index.column(key, name)
    if head is None:
        return None
    valid = Layout(len(specs)).valid
    try:
        count, warnings = json.loads(head)
        seen = 0
        for piece in range(0, count, CHUNK):
            text = index.column(key, _piece(name, piece))
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


def _store(index: Index, key: str, specs: list[MetricSpec], rows: Rows,
           tip: tuple[str, str] | None = None, written: int = 0) -> bool:
    """Keep a walk's rows: a head (count, warnings), then the lines in pieces (the first
    ``written`` lines are stored already: ``Pieces``); ``tip``: (base, resolved) of the
    walk, so the next walk of the same revisions can add to it (with the linking entries
    of the walk's tips, ``Rows.frontier``). The head goes last, in the same transaction as
    the last pieces: rows without it are never read."""
    name = _cache_key(specs)
    lines = rows.lines
    assert isinstance(lines, list)  # rows just made
    return index.put_columns(key, [*(
        (_piece(name, written + piece), "\n".join(lines[piece:piece + CHUNK]))
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
    (its code changes filled in); the head that makes the rows readable (``_store``) is
    written at the end."""

    def __init__(self, index: Index, key: str, name: str) -> None:
        self.index, self.key, self.name = index, key, name
        self.written = 0  # lines stored

    def write(self, lines: list[str]) -> bool:
        """Store the next piece; False if the cache refused it."""
        if not self.index.put_columns(self.key, [(_piece(self.name, self.written),
                                                  "\n".join(lines))]):
            return False
        self.written += len(lines)
        return True

    def read(self) -> list[str]:
        """The lines stored so far."""
        return [line for lines in _read_pieces(self.index, self.key, self.name, self.written)
                for line in lines]


def tip_name(base: str, specs: list[MetricSpec]) -> str:
    """The index note naming the latest walk of a set of revisions for these metrics
    (its tips' entries hold their values: another metric's walk cannot be added to)."""
    return "tip\x1d" + base + "\x1d" + _cache_key(specs)


def walk_rows(repo: Repo, config: Config, index: Index, tokens: list[str], key: str,
              specs: list[MetricSpec], *, first_parent: bool = False,
              progress: Progress | None = None, tip: tuple[str, str] | None = None) -> Rows:
    """Walk ``tokens`` and make the rows; they (and each new commit's facts) go to the
    index, with ``tip`` (see ``_store``)."""
    from .walk import Children
    from .walk import answers as start_walk

    points = step_points(config, specs)
    answers = start_walk(repo, config.log_dir, tokens, first_parent=first_parent,
                         oldest_first=True, series=points.paths if points else None)
    late = _late_steps(specs, points)  # the steps are read at the end, for every line
    pieces = None if late else Pieces(index, key, _cache_key(specs))
    # a big repository's walk counts each commit's children alongside, to drop linking
    # entries as it goes (flat memory); a small one holds its few entries
    children = None if late or repo.packed_objects() < COUNT_CHILDREN_FROM else \
        Children(repo, config.log_dir, tokens, first_parent=first_parent)
    if pieces is not None:  # registered first: another query's clean-up keeps its pieces
        index.keep_walk(key, "", [])
    try:
        rows, facts_rows = make_rows(repo, config, index, specs, answers, progress,
                                     pieces=pieces, children=children, points=points)
    finally:
        if children is not None:
            children.close()
    # the walk is registered (the index keeps the 16 last used, rows with them); its runs
    # for the other queries are filled when one of them walks it
    index.keep_walk(key, "\n".join(rows.warnings), facts_rows)
    tail = rows.lines
    assert isinstance(tail, list)
    stored = _store(index, key, specs, rows, tip, rows.stored)
    if not rows.stored:
        return rows
    if not stored:  # the cache refused the last piece: hold them all
        assert pieces is not None
        return Rows([*pieces.read(), *tail], rows.warnings)
    return Rows(StoredLines(index, key, _cache_key(specs), rows.stored + len(tail)),
                rows.warnings)


def extend_rows(repo: Repo, config: Config, index: Index, tokens: list[str], key: str,
                specs: list[MetricSpec], tip: tuple[str, str], *,
                first_parent: bool = False, progress: Progress | None = None) -> Rows | None:
    """The rows of ``tokens`` made from those of their last walk plus the commits since,
    when every revision only moved forward (new runs on top); None when that cannot be
    sure to give what a whole walk would.

    The old rows are not held: their full pieces are copied in the index, the new runs
    link to the entries the last walk kept for its tips, and one pass over the old rows
    gives their run ids and latest time."""
    from .walk import answers as start_walk

    base, resolved = tip
    noted = index.note(tip_name(base, specs))
    if noted is None or first_parent or any(t.startswith("^") or ".." in t for t in tokens):
        # (first parents: a tip that moved back may still be a second parent of the new
        # tip, which a first-parent walk no longer reaches: walk it all)
        return None
    try:
        old_key, old_resolved, frontier = json.loads(noted)
        state = {commit: (first, None, tuple(latest), ident)
                 for commit, (first, latest, ident) in frontier.items()}
    except (ValueError, TypeError, AttributeError):
        return None  # not kept (an older note, or a walk that could not tell its tips)
    old = cached(index, old_key, specs) if old_key != key else None
    if old is None:
        return None
    old_tips, new_tips = _ids(old_resolved), _ids(resolved)
    if not old_tips or not _only_forward(repo, old_tips, new_tips):
        return None  # a revision moved elsewhere (a rebase, a reset): walk it all
    name = _cache_key(specs)
    pieces: Pieces | None = None
    points = step_points(config, specs)
    if _late_steps(specs, points):  # the steps are read for all lines at once
        resumed = Resumed(state, old.lines, list(old.lines), 0)
    else:
        count = len(old.lines)
        full = count - count % CHUNK
        index.keep_walk(key, "", [])  # registered first: another query's clean-up keeps it
        if not index.copy_columns(old_key, key,
                                  [_piece(name, p) for p in range(0, full, CHUNK)]):
            return None
        tail = index.column(old_key, _piece(name, full)) if full < count else ""
        if tail is None:
            return None
        resumed = Resumed(state, old.lines, tail.split("\n") if tail else [], full)
        pieces = Pieces(index, key, name)
        pieces.written = full
    answers = start_walk(repo, config.log_dir, [*tokens, *(f"^{t}" for t in old_tips)],
                         first_parent=first_parent, oldest_first=True,
                         series=points.paths if points else None)
    try:
        rows, facts_rows = make_rows(repo, config, index, specs, answers, progress, resumed,
                                     pieces, points=points)
    except _Unsure:
        return None
    finally:
        answers.close()
    rows.warnings[:0] = old.warnings
    index.keep_walk(key, "\n".join(rows.warnings), facts_rows)
    tail_lines = rows.lines
    assert isinstance(tail_lines, list)
    if not _store(index, key, specs, rows, tip, rows.stored):
        return None  # the cache refused the rows: walk them whole
    if not rows.stored:
        return rows
    return Rows(StoredLines(index, key, name, rows.stored + len(tail_lines)), rows.warnings)


def _only_forward(repo: Repo, old_tips: list[str], new_tips: list[str]) -> bool:
    """Whether every old tip is in the history of the new ones; not when an old tip is
    gone from the repository (a rebased or amended branch, then ``git gc``)."""
    proc = run_git(["rev-list", "-n1", *old_tips, *(f"^{t}" for t in new_tips), "--"],
                   repo.root, check=False)
    return proc.returncode == 0 and not proc.stdout.strip()


def step_points(config: Config, specs: list[MetricSpec]) -> StepPoints | None:
    """What reads each run's points (``--step``) as the walk goes: None when no metric
    asks for one, or when a series file cannot be asked for in the walk's pipe (a blank
    in its path: those are read at the end instead)."""
    from .steps import StepPoints
    from .walk import inline_series

    if not any(s.which is not None for s in specs):
        return None
    points = StepPoints([(s.names, s.which) for s in specs if s.which is not None])
    if all(s.which is not None for s in specs) and \
            inline_series(config.log_dir, points.paths):
        return points
    return None


def _late_steps(specs: list[MetricSpec], points: StepPoints | None) -> bool:
    """Whether the steps are read at the end, for all the lines at once."""
    return points is None and any(s.which is not None for s in specs)


def _ids(resolved: str) -> list[str]:
    """The object ids ``git rev-parse`` printed (not the options it echoes)."""
    return sorted({t for t in resolved.split() if not t.startswith("-")})


class _Unsure(Exception):
    """Rows made on top of earlier ones might differ from a whole walk's."""


class Resumed:
    """Rows made before, to add the runs committed since to: the linking entries of
    their tips (``state``), a hash of each run id they hold and their latest commit time
    (one pass over ``lines``), the lines of their last piece if it is not full (``tail``)
    and how many lines come before it (``stored``, in the index already)."""

    def __init__(self, state: dict[str, tuple], lines: Iterable[str], tail: list[str],
                 stored: int) -> None:
        self.state = state
        self.run_ids: set[int] = set()
        self.since = 0
        for line in lines:
            f = line.split(SEP, 4)
            self.run_ids.add(hash(_text(f[3])))
            self.since = max(self.since, int(f[2]))
        self.lines = tail
        self.stored = stored


def make_rows(repo: Repo, config: Config, index: Index, specs: list[MetricSpec],
              answers: Iterable, progress: Progress | None = None,
              resumed: Resumed | None = None, pieces: Pieces | None = None,
              children: Iterable[bytes] | None = None,
              points: StepPoints | None = None) -> tuple[Rows, list[tuple[str, str]]]:
    """The rows of walked commits (oldest first), each run linked to the latest run on its
    line as it comes, and the facts rows not yet written to the index. ``resumed``: add to
    rows made before (the walk gives the commits since); raises ``_Unsure`` on anything a
    whole walk might see otherwise. ``pieces``: store each full piece of lines as it is
    made (the rows returned hold the lines after them). ``children``: each commit's
    children in the same walk (``walk.Children``): a commit's entry in the linking map
    is dropped once its last child is linked, so the walk holds the entries of the
    commits whose children are still to come, not one a commit. ``points``: the metrics'
    values are points of their series (``--step``), read from each answer's series
    (``answers`` reads them); without it, such values are read at the end for every line.

    The common commit (trailers and metrics.json in hand) is read from the raw answers;
    any other goes through ``walk.Parser`` and ``walk.Completer``."""
    from .facts import Facts, parse_metrics
    from .trailers import run_trailers
    from .walk import CodeIdentity, Completer, Parser, fields, id_size

    metrics_path = log_paths(config.log_dir)[1]
    layout = Layout(len(specs))
    lines: list[str] = resumed.lines if resumed else []
    done = resumed.stored if resumed else 0  # lines stored in ``pieces`` (not in ``lines``)
    warnings: list[str] = []
    # commit -> the latest run on its line: (its commit, its code's identity, the latest
    # value of each metric on the line, its identity); a commit that is no run shares the
    # entry of the run it follows
    none: tuple[float | None, ...] = (None,) * len(specs)
    nothing = (None, None, none, None)
    state: dict[str, tuple] = resumed.state if resumed else {}
    earlier = resumed.run_ids if resumed else None
    since = resumed.since if resumed else 0
    # a run met again (a merge, a rebased copy) is shown once: the hash of each run's
    # identity is kept (64 bits: among a million runs, a false match is a 3e-8 chance)
    shown: set[int] = set()
    counts = iter(children) if children is not None else None
    waiting: dict[str, int] = {}  # commit -> its children not linked yet
    dead: list[str] = []  # entries to drop: their last child is linked
    # without the counts, the parents met tell which entries are the tips' (the frontier
    # the next walk adds to); None when the counts stopped matching: not known
    linked: set[str] | None = set() if counts is None else None
    sources: dict[str, str] = {}
    diffs: list[tuple[int, str, str]] = []  # (line, previous, commit) to diff
    facts_rows: list[tuple[str, str]] = []
    # facts cached already (another query, the post-commit step): not written again
    known = index.cached_commits()
    late = _late_steps(specs, points)
    names = [list(s.names) for s in specs]
    lowers = [s.lower for s in specs]
    plain = names[0][0] if len(names) == 1 and len(names[0]) == 1 and \
        "/" not in names[0][0] else None
    width = layout.fields - 1
    parser = Parser(config.log_dir, oldest_first=True, id_size=id_size(repo))
    identity = CodeIdentity(config.log_dir, id_size(repo))
    complete = Completer(repo, config.log_dir)
    differ = None  # the git diff-tree that diffs code while the walk goes on
    probe = Facts("", 0, "", "", "", True)  # reads a metric from a parsed metrics.json
    try:
        for rest, tree, oid, blob in answers:
            commit, parents, source, ct, date, author, tags, subject = fields(rest)
            if counts is not None:
                for gone in dead:
                    state.pop(gone, None)
                dead.clear()
                listed = next(counts, b"")
                if listed[:8] != commit[:8].encode():  # not the same walk: keep every
                    counts = None  # entry
                else:
                    left = listed[8]  # the commit's children in the walk
                    if 0 < left < 255:  # (none: a tip, its entry stays; 255: or more)
                        waiting[commit] = left
                    for parent in parents.split():
                        left = waiting.get(parent, 0)
                        if left == 1:
                            del waiting[parent]
                            dead.append(parent)
                        elif left:
                            waiting[parent] = left - 1
            elif linked is not None and parents:
                linked.update(parents.split())
            run_id, experiment, status, code_commit = run_trailers(tags)
            if run_id is None or blob is None or oid is None:  # read more, the slow way
                rec = parser(rest, tree, oid, blob)
                if rec.pending:
                    complete(rec)
                f = rec.facts
                run_id, experiment, status, code_commit = (f.run_id, f.experiment, f.status,
                                                           f.code_commit)
                blob_id, parsed, error, text, has_run = (f.metrics_blob, f.tree, f.error,
                                                         f.text, f.has_run)
            else:
                blob_id = oid.decode()
                parsed, text, error = parse_metrics(blob)
                has_run = True
            if not known or commit not in known:
                row = SEP_FACTS.join((ct, date, author, subject, "1" if has_run else "0",
                                      run_id or "", experiment or "", status or "",
                                      code_commit or "", blob_id or "", error or "",
                                      text or ""))
                if row.count(SEP_FACTS) != 11:  # a field held the separator: pack cleans it
                    row = pack(Facts(commit, int(ct), date, author, subject, has_run, run_id,
                                     experiment, status, code_commit, blob_id, error, text))
                facts_rows.append((commit, row))
                if len(facts_rows) >= 1024:
                    index.put_facts_rows(facts_rows)
                    facts_rows.clear()
            first_parent_id = parents.partition(" ")[0]
            before = state.get(first_parent_id, nothing) if parents else nothing
            if earlier is not None and (parents and first_parent_id not in state or
                                        int(ct) <= since):
                # history the earlier rows do not show, clock skew, or a commit in the
                # same second as the latest stored one: git orders such ties its own
                # way, which only a whole walk repeats
                raise _Unsure
            if error:
                warnings.append(f"commit {commit[:10]}: {metrics_path} {error}; skipped")
                state[commit] = before
                continue
            if not has_run:
                state[commit] = before
                continue
            ident = f"{run_id or ''}:{blob_id or ''}" if run_id or blob_id else commit
            copy = hash(ident) in shown
            if copy:  # the same run again
                entry = _merged(state, parents, ident)
                if entry is not None:  # a merge: the entry of the run it brings in
                    state[commit] = entry
                    continue
            else:
                shown.add(hash(ident))
            if earlier is not None and (not run_id or hash(run_id) in earlier):
                raise _Unsure  # maybe a copy of an earlier run
            if not experiment:
                experiment = sources.get(source)
                if experiment is None:
                    experiment = sources[source] = source_experiment(source, config)
            old = before[2]
            if points is not None:
                values = tuple([_finite_or_inf(v) for v in
                                points(answers.series)])  # type: ignore[attr-defined]
            elif late or parsed is None:
                values = none
            elif plain is not None:  # one metric, one name without '/': read it directly
                value: Any = parsed.get(plain)
                kind = value.__class__
                values = (value,) if kind is float or kind is int and -_BIG < value < _BIG \
                    else (_finite_or_inf(value),) if kind is int else \
                    (value,) if kind is bool else none
            else:  # (a nan or inf is a value: a diverged run)
                probe.tree, probe.flat = parsed, None
                values = tuple([_finite_or_inf(probe.metric(n, finite=False, flags=True))
                                for n in names])
            raw, cells, latest = _metric_cells(values, old, lowers)
            if copy:  # a rebased or picked copy: no row; the next run compares with it
                state[commit] = (commit, None, latest, ident)
                continue
            first, code = before[0], identity(tree)
            if first is None:
                changes = _FIRST
            elif code is not None and code == before[1]:
                changes = ""
            else:
                changes = _DIFF
                diffs.append((done + len(lines), first, commit))
                if differ is None:
                    from .runlog import code_pathspec

                    differ = repo.diff_stream(code_pathspec(config))
                differ.pair(first, commit)
            if late or values.count(None) < len(values):
                state[commit] = (commit, code, latest, ident)
            else:  # a run without the metrics: the next run compares with the one before
                state[commit] = (first, before[1], latest, ident)
            line = SEP.join((commit, first or "", ct, run_id or "", status or "", author,
                             changes, *raw, commit[:10], date, experiment, subject, *cells, ""))
            if line.count(SEP) != width or \
                    not f"{run_id}{status}{author}{experiment}{subject}".isprintable():
                line = SEP.join((commit, first or "", ct, _esc(run_id or ""),
                                 _esc(status or ""), _esc(author), changes, *raw,
                                 commit[:10], date, _esc(experiment), _esc(subject), *cells,
                                 ""))
            lines.append(line)
            if len(lines) == CHUNK and pieces is not None:  # store the piece, drop it
                if diffs:
                    assert differ is not None
                    _fill_changes(index, lines, diffs, differ.take(), done)
                    diffs = []
                if pieces.write(lines):
                    lines = []
                    done += CHUNK
                else:  # the cache refused it (read-only, locked): hold every line
                    lines[:0] = pieces.read()
                    done, pieces = 0, None
            if progress is not None and not (done + len(lines)) % 2048:
                progress("walking", done + len(lines), None)
    except BaseException:
        if differ is not None:
            differ.abort()
        raise
    finally:
        complete.close()
    if late:
        assert not done, "the steps are read for all lines at once"
        _apply_steps(repo, config, index, lines, specs, layout)
    if differ is not None:
        _fill_changes(index, lines, diffs, differ.result(), done)
    if counts is not None:
        for gone in dead:
            state.pop(gone, None)
        frontier: dict[str, tuple] | None = state
    else:
        frontier = {c: e for c, e in state.items() if c not in linked} \
            if linked is not None else None
    return Rows(lines, warnings, done, frontier), facts_rows


def _merged(state: dict[str, tuple], parents: str, ident: str) -> tuple | None:
    """The entry of the parent that holds the run ``ident`` (a merge brings it in)."""
    for parent in parents.split():
        entry = state.get(parent)
        if entry is not None and entry[3] == ident:
            return entry
    return None


_NO_RAW = ("", "", "")
_NO_SHOWN = ("", "", "", "")
_FLAGS = {v: ((t, "", ""), (t, "", "", "")) for v, t in ((True, "true"), (False, "false"))}


def change(value: float, before: float,
           lower: bool) -> tuple[float | None, float | None, str | None]:
    """How ``value`` moved from ``before``: (delta, % or None when ``before`` is 0,
    better | worse | same, by which way is better; a move under a 10^12th of ``before``
    is float noise, the same). A value that is nan or infinite (a
    diverged run) is worse, with no delta; from such a ``before`` there is no change."""
    if value - value != 0:
        return None, None, "worse"
    if before - before != 0:
        return None, None, None
    try:
        delta = value - before
        if delta and abs(delta) <= 1e-12 * abs(before):  # float noise: 0.1 + 0.2 vs 0.3
            delta = 0.0
        delta = float(f"{delta:.12g}")
        pct = round(delta / abs(before) * 100, 2) if before else None
    except OverflowError:  # ints beyond a float's range
        delta, pct = (float("inf") if value > before else float("-inf")), None
    if pct is not None and pct - pct != 0:  # 1e308 to -1e308: no finite %
        pct = None
    return delta, pct, "same" if delta == 0 else "better" if (delta < 0) == lower else "worse"


_BIG = 2 ** 1024  # an int this large is no float: it reads as infinite


def _finite_or_inf(value: Any) -> Any:
    """A metric's value as the rows keep it: an int too large for a float is infinite."""
    if value.__class__ is int and not -_BIG < value < _BIG:
        return float("inf") if value > 0 else float("-inf")
    return value


def _cells_of(value: float | None, before: float | None,
              lower: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One metric's raw (value, delta, %) and shown (value, delta, %, verdict) cells."""
    if value is None:
        return _NO_RAW, _NO_SHOWN
    if before is None or value.__class__ is bool:  # a boolean: shown, never compared
        return _FLAGS[value] if value.__class__ is bool else \
            ((repr(value), "", ""), (_shown(value), "", "", ""))
    delta, pct, verdict = change(value, before, lower)
    verdict = verdict or ""
    if delta is None:  # a diverged value (``before`` is the line's latest finite one)
        return (repr(value), "", ""), (_shown(value), "", "", verdict)
    if pct is None:
        return (repr(value), repr(delta), ""), (_shown(value), f"{delta:+.6g}", "", verdict)
    return ((repr(value), repr(delta), repr(pct)),
            (_shown(value), f"{delta:+.6g}", f"{pct:+.6g}%", verdict))


def _metric_cells(values: tuple, old: tuple, lowers: list[bool]) -> tuple[tuple | list,
                                                                       tuple | list, tuple]:
    """Each metric's raw and shown cells against the latest value on the line before it,
    and the line's latest values."""
    if len(values) == 1:  # the usual query
        value = values[0]
        raw, shown = _cells_of(value, old[0], lowers[0])
        return raw, shown, old if value is None or value - value != 0 or \
            value.__class__ is bool else values
    raws: list[str] = []
    shows: list[str] = []
    for value, before, lower in zip(values, old, lowers, strict=True):
        raw, shown = _cells_of(value, before, lower)
        raws += raw
        shows += shown
    # the next run compares with the latest finite value on the line
    latest = tuple([b if v is None or v - v != 0 or v.__class__ is bool else v
                    for v, b in zip(values, old, strict=True)])
    return raws, shows, latest


def _fill_changes(index: Index, lines: list[str], diffs: list[tuple[int, str, str]],
                  found: list[list[str]], done: int = 0) -> None:
    """Put the code files changed between each pair (``found``, in ``diffs`` order) in
    its line (line ``at`` is ``lines[at - done]``), and keep them in the index."""
    index.put_changes({(a, b): files for (_, a, b), files in zip(diffs, found, strict=True)})
    for (at, _, _), files in zip(diffs, found, strict=True):
        lines[at - done] = _with_changes(lines[at - done], files)


def _with_changes(line: str, files: list[str]) -> str:
    fields = line.split(SEP)
    fields[6] = _PATHS.join(_esc(p) for p in files)
    fields[-1] = _esc(", ".join(files))
    return SEP.join(fields)


def _apply_steps(repo: Repo, config: Config, index: Index, lines: list[str],
                 specs: list[MetricSpec], layout: Layout) -> None:
    """Fill the metric cells from the step series (``--step``)."""
    from .steps import step_values

    rows = [line.split(SEP) for line in lines]
    commits = [r[0] for r in rows]
    # a rebased or picked copy has no line, yet the run after it follows it: its values
    # are read too (the same run's series as the line it copies)
    have = set(commits)
    copies = list(dict.fromkeys(r[1] for r in rows if r[1] and r[1] not in have))
    wanted = commits + copies
    columns = [step_values(repo, config, index, wanted, list(s.names), s.which)
               if s.which is not None else [None] * len(wanted) for s in specs]
    lowers = [s.lower for s in specs]
    none = (None,) * len(specs)
    last: dict[str, tuple] = {c: tuple(column[len(rows) + i] for column in columns)
                              for i, c in enumerate(copies)}
    count = len(specs)
    d = layout.display
    for i, fields in enumerate(rows):
        values = tuple(_finite_or_inf(c[i]) for c in columns)
        old = last.get(fields[1], none) if fields[1] else none
        raw, shown, last[fields[0]] = _metric_cells(values, old, lowers)
        fields[7:7 + 3 * count] = raw
        fields[d + 4:d + 4 + 4 * count] = shown
        lines[i] = SEP.join(fields)

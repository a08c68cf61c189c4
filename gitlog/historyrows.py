"""The rows of ``gitlog history``, made while git walks: one text line a run, oldest first.

Records come from ``walk`` oldest first (parents before children), so each run is linked
to the previous run on its line, and its metrics compared with that run's, the moment it
arrives: what is kept per commit is one entry of the map linking needs. A row is one line
of fields (``rowline``); the lines of a walk are stored in the index as they are made
(``rowstore``), so an unchanged repository answers without walking.

Code changes are known at once when a run ran the same code as the previous run (their
code identities match); the others are diffed by a ``git diff-tree --stdin`` fed while
the walk goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from . import rowstore
from .config import Config
from .facts import log_paths
from .git import Repo, run_git
from .index import SEP as SEP_FACTS
from .index import Index, pack
from .linking import Progress, source_experiment
from .rowline import (
    BIG,
    DIFF,
    FIRST,
    SEP,
    Layout,
    MetricSpec,
    escaped,
    finite_or_inf,
    metric_cells,
    text_of,
    with_changes,
)
from .rowstore import Pieces, Rows, StoredLines, cache_key, cached, piece_name, store_rows, tip_name

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from .steps import StepPoints

# packed objects from which a walk counts children (``walk.Children``): a run commit
# brings about 6 objects, so from some 3,000 runs; below, the linking map stays small
COUNT_CHILDREN_FROM = 20_000


def walk_rows(repo: Repo, config: Config, index: Index, tokens: list[str], key: str,
              specs: list[MetricSpec], *, first_parent: bool = False,
              progress: Progress | None = None, tip: tuple[str, str] | None = None) -> Rows:
    """Walk ``tokens`` and make the rows; they (and each new commit's facts) go to the
    index, with ``tip`` (see ``store_rows``)."""
    from .walk import Children
    from .walk import answers as start_walk

    points = step_points(config, specs)
    answers = start_walk(repo, config.log_dir, tokens, first_parent=first_parent,
                         oldest_first=True, series=points.paths if points else None)
    late = _late_steps(specs, points)  # the steps are read at the end, for every line
    pieces = None if late else Pieces(index, key, cache_key(specs))
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
    stored = store_rows(index, key, specs, rows, tip, rows.stored)
    if not rows.stored:
        return rows
    if not stored:  # the cache refused the last piece: hold them all
        assert pieces is not None
        return Rows([*pieces.read(), *tail], rows.warnings)
    return Rows(StoredLines(index, key, cache_key(specs), rows.stored + len(tail)),
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
    name = cache_key(specs)
    pieces: Pieces | None = None
    points = step_points(config, specs)
    if _late_steps(specs, points):  # the steps are read for all lines at once
        resumed = Resumed(state, old.lines, list(old.lines), 0)
    else:
        count = len(old.lines)
        full = count - count % rowstore.CHUNK
        index.keep_walk(key, "", [])  # registered first: another query's clean-up keeps it
        if not index.copy_columns(old_key, key,
                                  [piece_name(name, p) for p in range(0, full, rowstore.CHUNK)]):
            return None
        tail = index.column(old_key, piece_name(name, full)) if full < count else ""
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
    if not store_rows(index, key, specs, rows, tip, rows.stored):
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
            self.run_ids.add(hash(text_of(f[3])))
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
    chunk = rowstore.CHUNK  # lines a stored piece
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
                values = tuple([finite_or_inf(v) for v in
                                points(answers.series)])  # type: ignore[attr-defined]
            elif late or parsed is None:
                values = none
            elif plain is not None:  # one metric, one name without '/': read it directly
                value: Any = parsed.get(plain)
                kind = value.__class__
                values = (value,) if kind is float or kind is int and -BIG < value < BIG \
                    else (finite_or_inf(value),) if kind is int else \
                    (value,) if kind is bool else none
            else:  # (a nan or inf is a value: a diverged run)
                probe.tree, probe.flat = parsed, None
                values = tuple([finite_or_inf(probe.metric(n, finite=False, flags=True))
                                for n in names])
            raw, cells, latest = metric_cells(values, old, lowers)
            if copy:  # a rebased or picked copy: no row; the next run compares with it
                state[commit] = (commit, None, latest, ident)
                continue
            first, code = before[0], identity(tree)
            if first is None:
                changes = FIRST
            elif code is not None and code == before[1]:
                changes = ""
            else:
                changes = DIFF
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
                line = SEP.join((commit, first or "", ct, escaped(run_id or ""),
                                 escaped(status or ""), escaped(author), changes, *raw,
                                 commit[:10], date, escaped(experiment), escaped(subject), *cells,
                                 ""))
            lines.append(line)
            if len(lines) == chunk and pieces is not None:  # store the piece, drop it
                if diffs:
                    assert differ is not None
                    _fill_changes(index, lines, diffs, differ.take(), done)
                    diffs = []
                if pieces.write(lines):
                    lines = []
                    done += chunk
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


def _fill_changes(index: Index, lines: list[str], diffs: list[tuple[int, str, str]],
                  found: list[list[str]], done: int = 0) -> None:
    """Put the code files changed between each pair (``found``, in ``diffs`` order) in
    its line (line ``at`` is ``lines[at - done]``), and keep them in the index."""
    index.put_changes({(a, b): files for (_, a, b), files in zip(diffs, found, strict=True)})
    for (at, _, _), files in zip(diffs, found, strict=True):
        lines[at - done] = with_changes(lines[at - done], files)


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
        values = tuple(finite_or_inf(c[i]) for c in columns)
        old = last.get(fields[1], none) if fields[1] else none
        raw, shown, last[fields[0]] = metric_cells(values, old, lowers)
        fields[7:7 + 3 * count] = raw
        fields[d + 4:d + 4 + 4 * count] = shown
        lines[i] = SEP.join(fields)

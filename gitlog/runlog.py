"""The runs reachable from some revisions, oldest first, each linked to the previous run
on its line of history. Shared by ``history``, ``best``, ``blame``, ``bisect`` and ``index``.

Revisions may be commits, ranges (``main..exp/x``) or experiment names. Runs are
deduplicated by identity (run id and metrics blob), so a merge that brings a run into
``main`` or a rebased copy of a branch shows each run once. The walk and each commit's
facts come from the index when it has them.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import GitlogError, RevisionError
from .facts import Describer, Facts, log_paths
from .git import Repo
from .index import Index, pack

if TYPE_CHECKING:
    from .walk import Node

WALK_VERSION = "2"
Progress = Callable[[str, int, "int | None"], None]


class RunEntry:
    """A run and the previous run on its line of history (plain class: made per run)."""

    __slots__ = ("facts", "previous", "experiment")

    def __init__(self, facts: Facts, previous: str | None, experiment: str) -> None:
        self.facts = facts
        self.previous = previous
        self.experiment = experiment


class _Missing(list):  # type: ignore[type-arg]
    """A code-changes cell not known yet (a diff-tree between the two runs is needed)."""


_MISSING = _Missing()


class RunLog:
    """The runs of a walk, oldest first, with what to tell the user about it."""

    def __init__(self, runs: list[RunEntry], warnings: list[str] | None = None,
                 key: str = "") -> None:
        self.runs = runs
        self.notes: list[str] = []
        self.warnings = warnings or []
        self.fell_back = False
        self.key = key  # the walk's key in the index
        self._known: dict[tuple[str, str], list[str]] = {}
        self._column: list[list[str] | None] | None = None  # code changes per run
        self._pending: tuple[list[tuple[str, str]], Any] | None = None

    def by_commit(self) -> dict[str, RunEntry]:
        return {r.facts.commit: r for r in self.runs}

    def missing(self) -> list[tuple[str, str]]:
        """(previous, run) pairs whose code changes the walk did not give."""
        column = self._column
        if column is None or len(column) != len(self.runs):
            return []
        return sorted({(r.previous, r.facts.commit) for r, c in zip(self.runs, column,
                                                                     strict=True)
                       if c is _MISSING and r.previous})

    def fill(self) -> list[list[str] | None]:
        """The code-changes column, its missing cells taken from the known pairs."""
        column = self._column
        if column is None or len(column) != len(self.runs):
            column = [_MISSING] * len(self.runs)
        known = self._known
        self._column = [known.get((r.previous, r.facts.commit), []) if c is _MISSING and
                        r.previous else None if c is _MISSING else c
                        for r, c in zip(self.runs, column, strict=True)]
        return self._column


def experiment_refs(repo: Repo, config: Config) -> list[tuple[str, str]]:
    """(refname, sha) of every experiment branch and the main branch, local and remote."""
    out = repo.git("for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/",
                   "refs/remotes/")
    prefix, main = config.prefix, config["main_branch"]
    refs = []
    for line in out.splitlines():
        sha, ref = line.split(" ", 1)
        if ref.startswith("refs/heads/"):
            name = ref[len("refs/heads/"):]
        elif ref.startswith("refs/remotes/") and ref.count("/") >= 3:
            name = ref.split("/", 3)[3]
        else:
            continue
        if name.startswith(prefix) or name == main:
            refs.append((ref, sha))
    return refs


def _map_rev(repo: Repo, config: Config, rev: str) -> str:
    if rev == "":
        return rev
    if repo.rev_parse(rev):
        return rev
    if repo.rev_parse(config.branch(rev)):
        return config.branch(rev)
    raise RevisionError(rev, "unknown revision or experiment",
                        hint="name a commit, a branch, a range like main..exp/x, or an "
                             "experiment from 'gitlog ls'")


def map_revision(repo: Repo, config: Config, rev: str) -> str:
    """``rev`` as git understands it: experiment names become their branches."""
    if rev.startswith("-"):
        raise RevisionError(rev, "a revision cannot start with '-'",
                            hint="put options before revisions; name commits, branches or "
                                 "experiments")
    for sep in ("...", ".."):
        if sep in rev:
            left, right = rev.split(sep, 1)
            return _map_rev(repo, config, left) + sep + _map_rev(repo, config, right)
    if rev.startswith("^"):
        return "^" + _map_rev(repo, config, rev[1:])
    return _map_rev(repo, config, rev)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """A query makes a few objects per commit and no reference cycles, so the cyclic
    collector would only rescan them again and again (10-20% of a 10,000-run query):
    it is paused for the query and restored after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _walk_key(repo: Repo, config: Config, tokens: list[str], resolved: str,
              first_parent: bool) -> str:
    shallow = repo.common_dir / "shallow"
    parts = [WALK_VERSION, config.log_dir, config.prefix, str(first_parent), "\0".join(tokens),
             resolved, shallow.read_text() if shallow.exists() else ""]
    return "\x1e".join(parts)  # stored as is: no digest, so no two walks can collide


def collect(repo: Repo, config: Config, index: Index, revs: list[str] | tuple[str, ...] = (),
            *, all_: bool = False, first_parent: bool = False, changes: bool = False,
            progress: Progress | None = None) -> RunLog:
    """The runs of ``revs`` (default HEAD; ``all_``: every experiment and main)."""
    with paused_gc():
        return _collect_runs(repo, config, index, revs, all_, first_parent, changes, progress)


def _collect_runs(repo: Repo, config: Config, index: Index, revs: list[str] | tuple[str, ...],
                  all_: bool, first_parent: bool, changes: bool,
                  progress: Progress | None) -> RunLog:
    notes: list[str] = []
    fell_back = False
    resolved = None
    if all_:
        refs = experiment_refs(repo, config)
        tokens, resolved = [ref for ref, _ in refs], "\n".join(sha for _, sha in refs)
    elif revs:
        tokens = [map_revision(repo, config, r) for r in revs]
    else:
        tokens = ["HEAD"] if repo.rev_parse("HEAD") else []
    log = _collect(repo, config, index, tokens, resolved, first_parent, changes, progress)
    if not revs and not all_ and not log.runs:
        refs = experiment_refs(repo, config)
        if refs:
            log = _collect(repo, config, index, [ref for ref, _ in refs],
                           "\n".join(sha for _, sha in refs), first_parent, changes, progress)
            if log.runs:
                head = repo.head()
                where = head.branch[len("refs/heads/"):] if head.branch else "HEAD"
                notes.append(f"{where} holds no runs; showing every experiment's runs "
                             "(as with --all)")
                fell_back = True
    if (repo.common_dir / "shallow").exists():
        notes.append("this is a shallow clone: runs older than its history are missing and "
                     "the oldest runs shown may lack a previous run "
                     "(git fetch --unshallow brings the rest)")
    log.notes[:0] = notes
    log.fell_back = fell_back
    return log


def _collect(repo: Repo, config: Config, index: Index, tokens: list[str],
             resolved: str | None, first_parent: bool, changes: bool,
             progress: Progress | None) -> RunLog:
    if not tokens:
        return RunLog([])
    if resolved is None:
        resolved = repo.git("rev-parse", "--end-of-options", *tokens)
    key = _walk_key(repo, config, tokens, resolved, first_parent)
    facts = index.facts()
    stored = index.walk(key)
    if stored is not None:
        log = _restore(stored, facts, key)
        if log is not None:
            return log
    nodes, fresh = _walk_and_describe(repo, config, index, tokens, first_parent, facts,
                                      progress)
    log = _link(nodes, facts, config)
    log.key = key
    missing = log.missing()
    if missing:
        log._known = index.changes()
        missing = [p for p in missing if p not in log._known]
        if missing and changes:  # the tree diffs run in git while the index is written
            log._pending = (missing, repo.diff_names(missing, code_pathspec(config)))
    column = None if missing else log.fill()
    index.put_walk(key, _dump(log), "\n".join(log.warnings), fresh,
                   None if column is None else _dumps(column))
    return log


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _dump(log: RunLog) -> str:
    """The linked runs as the index keeps them: [commit, previous (its position), experiment]
    a run; what each commit holds is in the index's commits table."""
    where: dict[str | None, int] = {None: -1}
    rows = []
    for i, run in enumerate(log.runs):
        commit = run.facts.commit
        where[commit] = i
        rows.append([commit, where[run.previous], run.experiment])
    return _dumps(rows)


def _restore(stored: tuple[str, str, str | None], facts: dict[str, Facts],
             key: str) -> RunLog | None:
    """A walk's runs from the index; None if anything it needs is missing or damaged."""
    runs_text, warnings, changes = stored
    try:
        rows = json.loads(runs_text)
        column = json.loads(changes) if changes else None
        runs: list[RunEntry] = []
        for commit, previous, experiment in rows:
            runs.append(RunEntry(facts[commit], runs[previous].facts.commit
                                 if previous >= 0 else None, experiment))
    except (ValueError, TypeError, IndexError, KeyError):
        return None
    log = RunLog(runs, warnings.split("\n") if warnings else [], key)
    if isinstance(column, list) and len(column) == len(runs):
        log._column = column
    return log


def _walk_and_describe(repo: Repo, config: Config, index: Index, tokens: list[str],
                       first_parent: bool, facts: dict[str, Facts],
                       progress: Progress | None) -> tuple[list[Node], list[tuple[str, str]]]:
    """The walk's nodes, newest first; the commits it described get their facts added to
    ``facts`` and to the index (written as they come; the last rows are returned, to be
    written with the walk). Blobs are read and parsed while git walks."""
    from .walk import walk

    nodes: list[Node] = []
    rows: list[tuple[str, str]] = []
    # nothing cached: every commit is read, so cat-file starts along with git log
    describer = None if facts else Describer(repo, config.log_dir)
    records = walk(repo, config.log_dir, tokens, first_parent=first_parent)
    get = facts.get

    def take(new: list[Facts]) -> None:
        for item in new:
            facts[item.commit] = item
            rows.append((item.commit, pack(item)))
            item.text = None  # packed; the parsed tree stays
        if len(rows) >= 2048:
            index.put_facts_rows(rows)
            rows.clear()

    for record in records:
        nodes.append(record.node)
        cached = get(record.node.commit)
        blob = record.metrics
        # A cached row whose metrics blob disagrees with the commit is not trusted.
        if cached is None or (blob and cached.metrics_blob and blob != cached.metrics_blob):
            if describer is None:
                describer = Describer(repo, config.log_dir)
            describer.add(record)
            if describer.added % 256 == 0:
                take(describer.poll())
        if progress and len(nodes) % 1000 == 0:
            progress("walking", len(nodes), None)
    if describer is not None:
        if progress:
            progress("reading", describer.settled, describer.added)
        take(describer.finish())
        if progress:
            progress("reading", describer.added, describer.added)
    return nodes, rows


def _oldest_first(nodes: list[Node]) -> list[Node]:
    """Reverse of git's order, made topological (parents first) if clocks were skewed."""
    order = nodes[::-1]
    pos = {n.commit: i for i, n in enumerate(order)}
    if all(pos.get(p, -1) < i for i, n in enumerate(order) for p in n.parents):
        return order
    children: dict[str, list[Node]] = {}
    waiting: dict[str, int] = {}
    for n in order:
        inside = [p for p in n.parents if p in pos]
        waiting[n.commit] = len(inside)
        for p in inside:
            children.setdefault(p, []).append(n)
    import heapq

    ready = [(pos[n.commit], n.commit) for n in order if waiting[n.commit] == 0]
    heapq.heapify(ready)
    by_id = {n.commit: n for n in order}
    out = []
    while ready:
        _, commit = heapq.heappop(ready)
        out.append(by_id[commit])
        for child in children.get(commit, ()):
            waiting[child.commit] -= 1
            if waiting[child.commit] == 0:
                heapq.heappush(ready, (pos[child.commit], child.commit))
    return out


def source_experiment(source: str, config: Config) -> str:
    name = source
    if name.startswith("refs/heads/"):
        name = name[len("refs/heads/"):]
    elif name.startswith("refs/remotes/") and name.count("/") >= 3:
        name = name.split("/", 3)[3]
    return name[len(config.prefix):] if name.startswith(config.prefix) else ""


def _link(nodes: list[Node], facts: dict[str, Facts], config: Config) -> RunLog:
    """Runs oldest first, each with the previous run on its first-parent line; the code
    changed since then is known from the walk when that run is the true first parent."""
    metrics_path = log_paths(config.log_dir)[1]
    carried: dict[str, str | None] = {}
    seen: dict[str, str] = {}
    runs: list[RunEntry] = []
    column: list[list[str] | None] = []
    warnings: list[str] = []
    sources: dict[str, str] = {}
    for node in _oldest_first(nodes):
        commit = node.commit
        item = facts[commit]
        first = carried.get(node.parents[0]) if node.parents else None
        if item.error:
            warnings.append(f"commit {commit[:10]}: {metrics_path} {item.error}; skipped")
            carried[commit] = first
            continue
        ident = item.identity
        if ident is None:
            carried[commit] = first
            continue
        if ident in seen:
            carried[commit] = seen[ident]
            continue
        seen[ident] = commit
        carried[commit] = commit
        experiment = item.experiment
        if not experiment:
            experiment = sources.get(node.source)
            if experiment is None:
                experiment = sources[node.source] = source_experiment(node.source, config)
        runs.append(RunEntry(item, first, experiment))
        column.append(None if first is None else node.code if first == node.base else _MISSING)
    log = RunLog(runs, warnings=warnings)
    log._column = column
    return log


def code_pathspec(config: Config) -> list[str]:
    """Everything but the log directory and dvc.yaml: what 'code' means between runs."""
    return [".", f":(exclude){config.log_dir}", ":(exclude)dvc.yaml"]


def code_changes(repo: Repo, config: Config, index: Index, log: RunLog) -> \
        list[list[str] | None]:
    """Per run, the code files changed since its previous run (None for a line's first)."""
    if log._column is not None and len(log._column) == len(log.runs) and not log.missing():
        return log._column  # type: ignore[return-value]
    if log._column is None or len(log._column) != len(log.runs):
        log._column = [_MISSING if r.previous else None for r in log.runs]
    if log._pending is not None:
        missing, batch = log._pending
        log._pending = None
        found = dict(zip(missing, batch.result(), strict=True))
        index.put_changes(found)
        log._known.update(found)
    if not log._known:
        log._known = index.changes()
    missing = [p for p in log.missing() if p not in log._known]
    if missing:
        changed = repo.diff_names(missing, code_pathspec(config)).result()
        found = dict(zip(missing, changed, strict=True))
        index.put_changes(found)
        log._known.update(found)
    column = log.fill()
    if log.key:
        index.put_walk_changes(log.key, _dumps(column))
    return column


def no_runs_error(log: RunLog, revs: Any, all_: bool) -> GitlogError:
    where = "any experiment" if all_ or log.fell_back or not revs else " ".join(revs)
    return GitlogError(f"no runs found in {where}",
                       hint="log one: gitlog run -e NAME -- python train.py")

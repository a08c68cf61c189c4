"""The runs reachable from some revisions, oldest first, each linked to the previous run
on its line of history. Shared by ``history``, ``best``, ``blame``, ``bisect`` and ``index``.

Revisions may be commits, ranges (``main..exp/x``) or experiment names. Runs are
deduplicated by identity (run id and metrics blob), so a merge that brings a run into
``main`` or a rebased copy of a branch shows each run once. The walk and each commit's
facts come from the index when it has them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from .config import Config
from .errors import GitlogError, RevisionError
from .git import Repo
from .index import Index
from .walk import Describer, Facts, Node, log_paths, walk

WALK_VERSION = "1"
Progress = Callable[[str, int, "int | None"], None]


class RunEntry:
    """A run and the previous run on its line of history (plain class: made per run)."""

    __slots__ = ("facts", "previous", "experiment")

    def __init__(self, facts: Facts, previous: str | None, experiment: str) -> None:
        self.facts = facts
        self.previous = previous
        self.experiment = experiment


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
        self._column: list[list[str] | None] | None = None  # code changes, from the index
        self._pending: tuple[list[tuple[str, str]], Any] | None = None

    def by_commit(self) -> dict[str, RunEntry]:
        return {r.facts.commit: r for r in self.runs}


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


def _walk_key(repo: Repo, config: Config, tokens: list[str], resolved: str,
              first_parent: bool) -> str:
    shallow = repo.common_dir / "shallow"
    parts = [WALK_VERSION, config.log_dir, str(first_parent), "\0".join(tokens), resolved,
             shallow.read_text() if shallow.exists() else ""]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


def collect(repo: Repo, config: Config, index: Index, revs: list[str] | tuple[str, ...] = (),
            *, all_: bool = False, first_parent: bool = False, changes: bool = False,
            progress: Progress | None = None) -> RunLog:
    """The runs of ``revs`` (default HEAD; ``all_``: every experiment and main)."""
    notes: list[str] = []
    fell_back = False
    if all_:
        tokens = [ref for ref, _ in experiment_refs(repo, config)]
    elif revs:
        tokens = [map_revision(repo, config, r) for r in revs]
    else:
        tokens = ["HEAD"] if repo.rev_parse("HEAD") else []
    log = _collect(repo, config, index, tokens, first_parent, changes, progress)
    if not revs and not all_ and not log.runs:
        everything = [ref for ref, _ in experiment_refs(repo, config)]
        if everything:
            log = _collect(repo, config, index, everything, first_parent, changes,
                           progress)
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


def _collect(repo: Repo, config: Config, index: Index, tokens: list[str], first_parent: bool,
             changes: bool, progress: Progress | None) -> RunLog:
    if not tokens:
        return RunLog([])
    resolved = repo.git("rev-parse", "--end-of-options", *tokens)
    key = _walk_key(repo, config, tokens, resolved, first_parent)
    facts = index.facts()
    cached = index.runlog(key)
    if cached is not None and all(c in facts for c, _, _ in cached[0]):
        runs = [RunEntry(facts[c], previous, experiment) for c, previous, experiment in cached[0]]
        log = RunLog(runs, warnings=cached[1], key=key)
        if changes:
            log._column = index.walk_changes(key)
        return log
    nodes, fresh = _walk_and_describe(repo, config, tokens, first_parent, facts, progress)
    log = _link(nodes, facts, config)
    log.key = key
    if changes:  # the tree diffs run in git while the index is written
        log._known = index.changes()
        missing = sorted({(r.previous, r.facts.commit) for r in log.runs
                          if r.previous and (r.previous, r.facts.commit) not in log._known})
        if missing:
            log._pending = (missing, repo.diff_names(missing, code_pathspec(config)))
    index.put_walk(key, [(r.facts.commit, r.previous, r.experiment) for r in log.runs],
                   log.warnings, fresh)
    return log


def _walk_and_describe(repo: Repo, config: Config, tokens: list[str], first_parent: bool,
                       facts: dict[str, Facts], progress: Progress | None) -> \
        tuple[list[Node], list[Facts]]:
    metrics_path = log_paths(config.log_dir)[1]
    nodes: list[Node] = []
    describer: Describer | None = None
    for record in walk(repo, config.log_dir, tokens, first_parent=first_parent):
        nodes.append(record.node)
        cached = facts.get(record.node.commit)
        blob = record.files.get(metrics_path)
        # A cached row whose metrics blob disagrees with the commit is not trusted.
        if cached is None or (blob and cached.metrics_blob and blob != cached.metrics_blob):
            if describer is None:
                describer = Describer(repo, config.log_dir)
            describer.add(record)
        if progress and len(nodes) % 1000 == 0:
            progress("walking", len(nodes), None)
    if describer is None:
        return nodes, []
    if progress:
        progress("reading", 0, len(describer.records))
    fresh = describer.finish()
    for item in fresh:
        facts[item.commit] = item
    if progress:
        progress("reading", len(fresh), len(fresh))
    return nodes, fresh


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
    metrics_path = log_paths(config.log_dir)[1]
    carried: dict[str, str | None] = {}
    seen: dict[str, str] = {}
    runs: list[RunEntry] = []
    warnings: list[str] = []
    for node in _oldest_first(nodes):
        item = facts[node.commit]
        ident = item.identity
        first = carried.get(node.parents[0]) if node.parents else None
        if item.error:
            warnings.append(f"commit {item.commit[:10]}: {metrics_path} {item.error}; skipped")
            carried[node.commit] = first
            continue
        if ident is None:
            carried[node.commit] = first
            continue
        if ident in seen:
            carried[node.commit] = seen[ident]
            continue
        seen[ident] = node.commit
        carried[node.commit] = node.commit
        experiment = item.experiment or source_experiment(node.source, config)
        runs.append(RunEntry(item, first, experiment))
    return RunLog(runs, warnings=warnings)


def code_pathspec(config: Config) -> list[str]:
    """Everything but the log directory and dvc.yaml: what 'code' means between runs."""
    return [".", f":(exclude){config.log_dir}", ":(exclude)dvc.yaml"]


def code_changes(repo: Repo, config: Config, index: Index, log: RunLog) -> \
        list[list[str] | None]:
    """Per run, the code files changed since its previous run (None for a line's first)."""
    if log._column is not None and len(log._column) == len(log.runs):
        return log._column
    if log._pending is not None:
        missing, batch = log._pending
        log._pending = None
        found = dict(zip(missing, batch.result(), strict=True))
        index.put_changes(found)
        log._known.update(found)
    known = log._known or index.changes()
    pairs = [(r.previous, r.facts.commit) if r.previous else None for r in log.runs]
    missing = sorted({p for p in pairs if p is not None and p not in known})
    if missing:
        changed = repo.diff_names(missing, code_pathspec(config)).result()
        found = dict(zip(missing, changed, strict=True))
        index.put_changes(found)
        known.update(found)
    log._column = [known.get(p) if p is not None else None for p in pairs]
    if log.key:
        index.put_walk_changes(log.key, log._column)
    return log._column


def no_runs_error(log: RunLog, revs: Any, all_: bool) -> GitlogError:
    where = "any experiment" if all_ or log.fell_back or not revs else " ".join(revs)
    return GitlogError(f"no runs found in {where}",
                       hint="log one: gitlog run -e NAME -- python train.py")

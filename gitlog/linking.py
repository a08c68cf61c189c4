"""From walked commits to linked runs: the walk's records are described (their blobs read
while git walks, their facts written to the index as they come), then put oldest first
and linked, each run to the previous run on its first-parent line, with the code files
changed since then when the walk gives them.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import Config
from .facts import Facts, log_paths
from .git import Repo
from .index import Index, pack

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from .walk import Node

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


MISSING = _Missing()


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

    def metric_names(self) -> list[str]:
        """Every metric the runs logged, sorted (the hint when a metric is missing)."""
        return sorted({name for run in self.runs for name in run.facts.metric_names()})

    def missing(self) -> list[tuple[str, str]]:
        """(previous, run) pairs whose code changes the walk did not give."""
        column = self._column
        if column is None or len(column) != len(self.runs):
            return []
        return sorted({(r.previous, r.facts.commit) for r, c in zip(self.runs, column,
                                                                     strict=True)
                       if c is MISSING and r.previous})

    def fill(self) -> list[list[str] | None]:
        """The code-changes column, its missing cells taken from the known pairs."""
        column = self._column
        if column is None or len(column) != len(self.runs):
            column = [MISSING] * len(self.runs)
        known = self._known
        self._column = [known.get((r.previous, r.facts.commit), []) if c is MISSING and
                        r.previous else None if c is MISSING else c
                        for r, c in zip(self.runs, column, strict=True)]
        return self._column


def walk_and_describe(repo: Repo, config: Config, index: Index, tokens: list[str],
                       first_parent: bool, facts: dict[str, Facts],
                       progress: Progress | None) -> tuple[list[Node], list[tuple[str, str]]]:
    """The walk's nodes, newest first; every walked commit's facts are put in ``facts``,
    and those the index lacks are written to it as they come (the last rows are
    returned, to be written with the walk). Objects are read while git walks."""
    from .walk import complete, walk

    nodes: list[Node] = []
    rows: list[tuple[str, str]] = []
    pending = []
    cached = facts.copy() if facts else None
    for record in walk(repo, config.log_dir, tokens, first_parent=first_parent):
        nodes.append(record.node)
        item = record.facts
        facts[item.commit] = item
        if record.pending:
            pending.append(record)
        elif cached is None or item.commit not in cached:
            rows.append((item.commit, pack(item)))
            item.text = None  # packed; the parsed tree stays
            if len(rows) >= 4096:
                index.put_facts_rows(rows)
                rows.clear()
        if progress and len(nodes) % 1000 == 0:
            progress("walking", len(nodes), None)
    if pending:
        complete(repo, config.log_dir, pending)
        rows += [(r.facts.commit, pack(r.facts)) for r in pending
                 if cached is None or r.facts.commit not in cached]
    return nodes, rows


def oldest_first(nodes: list[Node]) -> list[Node]:
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


def link(nodes: list[Node], facts: dict[str, Facts], config: Config) -> RunLog:
    """Runs oldest first, each with the previous run on its first-parent line; no code
    changed since then when both ran the same code (their code identities match), else
    the cell is MISSING, for ``runlog.code_changes`` to diff."""
    metrics_path = log_paths(config.log_dir)[1]
    carried: dict[str, str | None] = {}
    seen: dict[str, str] = {}
    runs: list[RunEntry] = []
    column: list[list[str] | None] = []
    warnings: list[str] = []
    sources: dict[str, str] = {}
    codes: dict[str, int | None] = {}
    for node in oldest_first(nodes):
        commit = node.commit
        codes[commit] = node.code
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
        if first is None:
            column.append(None)
        else:  # the same code as the previous run: nothing to diff
            code = node.code
            column.append([] if code is not None and code == codes.get(first) else MISSING)
    log = RunLog(runs, warnings=warnings)
    log._column = column
    return log

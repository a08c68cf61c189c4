"""How many runs the history of each experiment tip holds (``gitlog ls``'s ``runs``).

A run is a commit that changes run.yaml or metrics.json, on every side of a merge
(``git log --full-history -- PATHS``); a merge that takes both files from one of its
parents brings that parent's run in and is none itself. The count of every tip costs
the same few git processes whatever the number of branches: one path-limited walk from
all tips finds the runs, one ``rev-list`` gives the graph that says which tips reach
them, one ``cat-file --batch-check`` reads the files of the merges' sides.

A commit's count never changes (its history is fixed), so counts are kept by commit id
in ``.git/gitlog/run-counts.marshal``: ``ls`` walks only the history of the tips it
has not counted before, and none at all when no branch moved. Deepening a shallow
clone brings history in, and replace refs and grafts change it, so the file also keeps
``.git/shallow`` and those (``git.replacements``) and starts afresh when they
change, as the query index does.
"""

from __future__ import annotations

import os

from . import marshalfile
from .facts import log_paths

CACHE_FILE = "run-counts.marshal"
KEEP = 4096  # counts; past it, only those of the tips just asked for are kept

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .config import Config
    from .git import Repo


def run_counts(repo: Repo, config: Config, tips: list[str]) -> dict[str, int]:
    """tip -> how many runs its history holds, for each of ``tips`` (commit ids)."""
    state = _history_state(repo)
    known = _load(repo.gitlog_dir, state)
    keys = {tip: f"{config.log_dir}\0{tip}" for tip in tips}
    missing = [tip for tip in keys if keys[tip] not in known]
    if missing:
        found = _walk(repo, config, missing)
        known.update((keys[tip], n) for tip, n in found.items())
        if len(known) > KEEP:
            known = {key: known[key] for key in keys.values()}
        _save(repo.gitlog_dir, state, known)
    return {tip: known[keys[tip]] for tip in tips}


def _walk(repo: Repo, config: Config, tips: list[str]) -> dict[str, int]:
    """Each tip's runs, counted from its history (``run_counts``' rule)."""
    paths = log_paths(config.log_dir)
    revs = "".join(f"{tip}\n" for tip in tips).encode()
    changed = [line.split() for line in repo.git(
        "log", "--full-history", "--format=%H %P", "--stdin", "--", *paths,
        input=revs).splitlines() if line]
    runs = {line[0] for line in changed if len(line) <= 2}
    runs |= merge_runs(repo, paths, [line for line in changed if len(line) > 2])
    graph = repo.git("rev-list", "--parents", "--topo-order", "--reverse", "--stdin",
                     input=revs)
    return _count(graph, runs, set(tips))


def merge_runs(repo: Repo, paths: list[str], merges: list[list[str]]) -> set[str]:
    """The merges (commit, *parents) whose run files are those of none of their parents."""
    if not merges:
        return set()
    ask = "".join(f"{commit}:{path}\n" for merge in merges for commit in merge
                  for path in paths)
    ids = ["" if line.endswith(" missing") else line for line in
           repo.git("cat-file", "--batch-check=%(objectname)", input=ask.encode()).split("\n")]
    found, at = set(), 0
    for merge in merges:
        files = [tuple(ids[at + i * len(paths):at + (i + 1) * len(paths)])
                 for i in range(len(merge))]
        at += len(merge) * len(paths)
        if files[0] not in files[1:]:
            found.add(merge[0])
    return found


def _count(graph: str, runs: set[str], tips: set[str]) -> dict[str, int]:
    """Each tip's runs, from ``rev-list --parents --topo-order --reverse`` (parents
    first). The graph is cut down to runs, merges and tips, each joined to the nearest
    such commits below it; a commit with no merge below it adds its runs to its parent's
    count, the others count what a walk down the cut graph reaches."""
    below: dict[str, str | None] = {}  # commit -> the nearest kept commit at or below it
    edges: dict[str, list[str]] = {}  # kept commit -> the kept commits it joins
    linear: dict[str, int] = {}  # kept commit with no merge below -> its runs
    for line in graph.splitlines():
        commit, *parents = line.split()
        if commit not in runs and commit not in tips and len(parents) <= 1:
            below[commit] = below[parents[0]] if parents else None
            continue
        joined = list(dict.fromkeys(b for p in parents if (b := below[p]) is not None))
        below[commit] = commit
        edges[commit] = joined
        if len(parents) <= 1 and (not joined or joined[0] in linear):
            linear[commit] = (commit in runs) + (linear[joined[0]] if joined else 0)
    counts = {}
    for tip in tips:
        if tip in linear:
            counts[tip] = linear[tip]
            continue
        seen, todo = {tip}, [tip]
        while todo:
            for parent in edges[todo.pop()]:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        counts[tip] = len(seen & runs)
    return counts


def _history_state(repo: Repo) -> str:
    """What, besides a commit, decides the history git walks from it."""
    from .git import replacements

    try:
        shallow = (repo.common_dir / "shallow").read_text(errors="replace")
    except OSError:
        shallow = ""
    return f"{shallow}\0{replacements(repo)}"


def _load(gitlog_dir: os.PathLike[str], state: str) -> dict[str, int]:
    """The kept counts, if kept under the same ``_history_state``; else none. Only
    counts that read as counts are taken: anything else in the file is counted again."""
    stored = marshalfile.load(os.path.join(gitlog_dir, CACHE_FILE))
    if not isinstance(stored, dict) or stored.get("history") != state or \
            not isinstance(stored.get("counts"), dict):
        return {}
    return {key: n for key, n in stored["counts"].items()
            if type(key) is str and type(n) is int and n >= 0}


def _save(gitlog_dir: os.PathLike[str], state: str, counts: dict[str, int]) -> None:
    """Write the counts; never fails (a cache: a read-only repository just has none)."""
    marshalfile.dump(os.path.join(gitlog_dir, CACHE_FILE), {"history": state, "counts": counts})

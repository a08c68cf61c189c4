"""``gitlog compare`` (``diff``): runs side by side.

Params (changed ones marked), metrics with deltas against the first run, data and model
descriptor changes, and the code diff stat from the first run to each other one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config, load
from .errors import GitlogError, RevisionError
from .git import Repo
from .gitdiff import diff
from .layout import flatten, read_run
from .query import no_run_error, resolve_run, run_experiment
from .rowline import unsigned
from .runlog import code_pathspec


@dataclass
class RunHead:
    commit: str
    experiment: str
    run: str | None
    subject: str
    label: str  # short commit (experiment)


@dataclass
class CompareRow:
    """One key across the runs: ``values[i]`` belongs to ``runs[i]``."""

    section: str  # params | metrics | data | model
    key: str
    values: list[Any]
    changed: bool
    deltas: list[float | None] = field(default_factory=list)   # metrics: vs the first run
    pcts: list[float | None] = field(default_factory=list)
    verdicts: list[str | None] = field(default_factory=list)


@dataclass
class CodeRow:
    """One file changed from the first run's code to ``runs[target]``'s."""

    target: int
    path: str
    insertions: int | None
    deletions: int | None


@dataclass
class Comparison:
    runs: list[RunHead]
    rows: list[CompareRow]
    code: list[CodeRow]
    warnings: list[str] = field(default_factory=list)  # run files that could not be read

    def section(self, name: str) -> list[CompareRow]:
        return [r for r in self.rows if r.section == name]


def _change(value: Any, base: Any, lower: bool | None) -> tuple[float | None, float | None,
                                                          str | None]:
    """(delta, %, verdict) of ``value`` against ``base``, as history has them: a nan or
    infinite value is worse with no delta; against such a base there is none."""
    from .rowline import change

    numbers = (int, float)
    if isinstance(value, bool) or isinstance(base, bool) or \
            not isinstance(value, numbers) or not isinstance(base, numbers):
        return None, None, None
    return change(value, base, lower)


def _join_series(config: Config, tables: list[dict[str, Any]]) -> None:
    """A series of ``metrics.aliases`` that the runs logged under different names
    (``train_loss``, then ``loss``) becomes one key, named as the series, holding each
    run's value as history reads it (its first name the run has); other names stay."""
    for canonical in config.data["metrics"].get("aliases") or {}:
        names = config.series(str(canonical))
        picked = [next((n for n in names if isinstance(t.get(n), (int, float))), None)
                  for t in tables]
        if len({n for n in picked if n is not None}) < 2:
            continue
        for table, name in zip(tables, picked, strict=True):
            if name is not None:
                table[str(canonical)] = table.pop(name)


def _ends(rev: str) -> list[str]:
    """A range names its two ends, as ``git diff A..B`` takes them (an empty end is HEAD);
    ``A...B`` and ``^A`` select commits, not two runs: refused, naming what compare takes."""
    if rev.startswith("^") or "..." in rev:
        left, _, right = rev.partition("...")
        hint = f"name its two ends: gitlog compare {left or 'HEAD'} {right or 'HEAD'}" \
            if "..." in rev else "name the runs themselves: gitlog compare baseline high-lr"
        raise RevisionError(rev, "compare takes runs, not a set of commits", hint=hint)
    if ".." in rev:
        left, _, right = rev.partition("..")
        return [left or "HEAD", right or "HEAD"]
    return [rev]


def compare(*runs: str | Sequence[str], revs: str | Sequence[str] = (), changed: bool = False,
            repo: str | Path | Repo = ".") -> Comparison:
    """Compare two or more runs (``gitlog compare``): a ``Comparison`` of ``runs``,
    ``rows`` (params, metrics, data and model keys side by side) and ``code`` (the diff
    stat from the first run to each other one).

    runs: the runs (commits, experiment names or run ids), one by one or in a list;
        ``A..B`` names A and B, as for ``git diff``.
    revs: the same, by its former name.
    changed: only the keys that differ (``--changed``).
    repo: the repository, or any folder inside it (a str or a Path).

    A metric row's ``deltas``, ``pcts`` and ``verdicts`` compare each later run with the
    first. Malformed run files are reported in ``warnings``; nothing is printed.

        c = gitlog.compare("baseline", "high-lr")        # or compare(["baseline", "high-lr"])
        [r for r in c.section("params") if r.changed]
    """
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = load(repo.root)
    # one name is one run, not its characters; a list names several
    from .apiargs import revs_arg

    revs = [rev for item in (*runs, revs) for rev in revs_arg(item, "compare")]
    revs = [end for rev in revs for end in _ends(rev)]
    if len(revs) < 2:
        raise GitlogError("compare needs at least two runs",
                          hint="name them: gitlog compare baseline high-lr")
    commits = [resolve_run(repo, config, rev) for rev in revs]
    for i, commit in enumerate(commits):
        if commit in commits[:i]:  # its columns would be one: JSON and CSV would lose one
            first = revs[commits.index(commit)]
            raise GitlogError(f"compare got run {commit[:10]} twice ({first} and {revs[i]})",
                              hint="name each run once; 'gitlog history' lists an "
                                   "experiment's runs")
    records = []
    with repo.cat_file() as cat:
        for rev, commit in zip(revs, commits, strict=False):
            record = read_run(cat, commit, config.log_dir, events=False)
            if record is None:
                raise no_run_error(repo, config, rev, commit, "name run commits, experiments "
                                   "or run ids ('gitlog ls', 'gitlog history')")
            records.append(record)
    heads = []
    for rev, commit, record in zip(revs, commits, records, strict=False):
        subject = repo.git("log", "-1", "--format=%s", commit).strip()
        experiment = run_experiment(repo, config, record, rev)
        heads.append(RunHead(commit, experiment, record.run.get("id"), subject,
                             f"{commit[:10]} ({experiment})" if experiment else commit[:10]))
    rows: list[CompareRow] = []
    for section in ("params", "metrics", "data", "model"):
        tables = [flatten(getattr(r, section) or {}) for r in records]
        if section == "metrics":
            _join_series(config, tables)
            tables = [{k: unsigned(v) for k, v in t.items()} for t in tables]
        keys = sorted({k for t in tables for k in t})
        for key in keys:
            values = [t.get(key) for t in tables]
            differs = any(v != values[0] for v in values[1:])
            row = CompareRow(section, key, values, differs)
            if section == "metrics":
                lower = config.lower(key)
                for v in values[1:]:
                    delta, pct, verdict = _change(v, values[0], lower)
                    row.deltas.append(delta)
                    row.pcts.append(pct)
                    row.verdicts.append(verdict)
            if row.changed or not changed:
                rows.append(row)
    code = []
    spec = code_pathspec(config)
    for i, commit in enumerate(commits[1:], 1):
        # -z: paths as they are (not C-quoted), as history and blame list them
        for line in diff(repo, "-z", "--numstat", "--no-renames", commits[0], commit, "--",
                         *spec).split("\0"):
            if "\t" not in line:
                continue
            added, deleted, path = line.split("\t", 2)
            code.append(CodeRow(i, path, int(added) if added.isdigit() else None,
                                int(deleted) if deleted.isdigit() else None))
    return Comparison(heads, rows, code, [w for r in records for w in r.warnings])

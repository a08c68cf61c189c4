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
from collections.abc import Iterator, Sequence

from .branches import experiment_rev
from .config import Config
from .errors import GitlogError, RevisionError
from .facts import Facts
from .git import Repo, replacements, run_git
from .index import Index
from .linking import MISSING, Progress, RunEntry, RunLog, link, source_experiment, walk_and_describe

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Progress", "RunEntry", "RunLog", "collect", "code_changes", "code_pathspec",
           "experiment_refs", "map_revision", "no_runs_error", "paused_gc",
           "moved", "resolve", "source_experiment", "targets", "walk_base", "walk_key",
           "walk_notes"]
WALK_VERSION = "3"


def experiment_refs(repo: Repo, config: Config) -> list[tuple[str, str]]:
    """(refname, sha) of every experiment branch and the main branch, local and remote."""
    out = repo.git("for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/",
                   "refs/remotes/")
    prefix, main = config.prefix, config["main_branch"]
    remotes: list[str] | None = None  # read when a remote's name may hold a '/'
    refs = []
    for line in out.splitlines():
        sha, ref = line.split(" ", 1)
        if ref.startswith("refs/heads/"):
            name = ref[len("refs/heads/"):]
        elif ref.startswith("refs/remotes/") and ref.count("/") >= 3:
            name = ref.split("/", 3)[3]
            if not (name.startswith(prefix) or name == main) and \
                    (f"/{prefix}" in name or name.endswith(f"/{main}")):
                if remotes is None:  # 'team/a' in refs/remotes/team/a/exp/x
                    remotes = repo.git("remote").split()
                name = next((ref[len(f"refs/remotes/{r}/"):] for r in remotes
                             if ref.startswith(f"refs/remotes/{r}/")
                             and "/" in r), name)
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
    ref = experiment_rev(repo, config, rev)
    if ref and (not any(c in rev for c in "~^") or repo.rev_parse(ref)):  # baseline~9
        return ref
    raise RevisionError(rev, "unknown revision or experiment", hint=repo.unknown_hint(
        rev, "name a commit, a branch, a range like main..exp/x, or an experiment from "
             "'gitlog ls'"))


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


def walk_base(repo: Repo, config: Config, tokens: list[str], first_parent: bool) -> str:
    """What decides a walk besides where its revisions point."""
    shallow = repo.common_dir / "shallow"
    parts = [WALK_VERSION, config.log_dir, config.prefix, str(first_parent), "\0".join(tokens),
             shallow.read_text() if shallow.exists() else ""]
    replaced = replacements(repo)
    if replaced:  # (most repositories have none: their keys stay as they were)
        parts.append(replaced)
    return "\x1e".join(parts)  # stored as is: no digest, so no two walks can collide


def resolve(repo: Repo, tokens: list[str], resolved: str | None = None) -> str:
    """Where ``tokens`` point (``git rev-parse``), unless known already."""
    if resolved is None:
        resolved = repo.git("rev-parse", "--end-of-options", *tokens)
    return resolved


def moved(repo: Repo, tokens: list[str], resolved: str) -> bool:
    """Whether ``tokens`` point elsewhere than ``resolved`` now: a branch moved while its
    walk ran (a run committed meanwhile), so what the walk found may not be what its key
    names, and must not be kept under it."""
    proc = run_git(["rev-parse", "--end-of-options", *tokens], repo.root, check=False)

    def ids(text: str) -> list[str]:  # (rev-parse echoes --end-of-options; --all's not)
        return [line for line in text.split() if line != "--end-of-options"]

    return proc.returncode != 0 or ids(proc.stdout.decode("utf-8", "replace")) != ids(resolved)


def walk_key(repo: Repo, config: Config, tokens: list[str], resolved: str | None,
             first_parent: bool) -> str:
    """Everything that decides a walk's result: its key in the index."""
    return walk_base(repo, config, tokens, first_parent) + "\x1e" + resolve(repo, tokens,
                                                                          resolved)


def collect(repo: Repo, config: Config, index: Index, revs: list[str] | tuple[str, ...] = (),
            *, all_: bool = False, first_parent: bool = False, changes: bool = False,
            progress: Progress | None = None) -> RunLog:
    """The runs of ``revs`` (default HEAD; ``all_``: every experiment and main)."""
    with paused_gc():
        return _collect_runs(repo, config, index, revs, all_, first_parent, changes, progress)


def _collect_runs(repo: Repo, config: Config, index: Index, revs: list[str] | tuple[str, ...],
                  all_: bool, first_parent: bool, changes: bool,
                  progress: Progress | None) -> RunLog:
    tokens, resolved = targets(repo, config, revs, all_)
    log = _collect(repo, config, index, tokens, resolved, first_parent, changes, progress)
    if not revs and not all_ and not log.runs:
        tokens, resolved = targets(repo, config, (), True)
        if tokens:
            log = _collect(repo, config, index, tokens, resolved, first_parent, changes,
                           progress)
            log.fell_back = bool(log.runs)
    log.notes[:0] = walk_notes(repo, log.fell_back)
    return log


def targets(repo: Repo, config: Config, revs: list[str] | tuple[str, ...],
            all_: bool) -> tuple[list[str], str | None]:
    """What to walk (revisions as git takes them) and, when known already, what they
    resolve to: ``all_``, every experiment and main (with ``revs`` too, as ``git log
    --all ^X`` takes them); else ``revs``; else HEAD."""
    if all_:
        refs = experiment_refs(repo, config)
        if revs:
            return [*(ref for ref, _ in refs), *(map_revision(repo, config, r) for r in revs)], \
                None
        return [ref for ref, _ in refs], "\n".join(sha for _, sha in refs)
    if revs:
        return [map_revision(repo, config, r) for r in revs], None
    return (["HEAD"] if repo.rev_parse("HEAD") else []), None


def walk_notes(repo: Repo, fell_back: bool) -> list[str]:
    """What to tell the user about a walk: it fell back to every experiment (HEAD held
    no runs), or the clone is shallow."""
    notes = []
    if fell_back:
        head = repo.head()
        where = head.branch[len("refs/heads/"):] if head.branch else "HEAD"
        notes.append(f"{where} holds no runs; showing every experiment's runs (as with --all)")
    if (repo.common_dir / "shallow").exists():
        notes.append("this is a shallow clone: runs older than its history are missing and "
                     "the oldest runs shown may lack a previous run "
                     "(git fetch --unshallow brings the rest)")
    return notes


def _collect(repo: Repo, config: Config, index: Index, tokens: list[str],
             resolved: str | None, first_parent: bool, changes: bool,
             progress: Progress | None) -> RunLog:
    if not tokens:
        return RunLog([])
    resolved = resolve(repo, tokens, resolved)
    key = walk_key(repo, config, tokens, resolved, first_parent)
    facts = index.facts()
    stored = index.walk(key)
    if stored is not None:
        log = _restore(stored, facts, key)
        if log is not None:
            return log
    nodes, fresh = walk_and_describe(repo, config, index, tokens, first_parent, facts,
                                     progress)
    log = link(nodes, facts, config)
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
    if moved(repo, tokens, resolved):
        index.forget_walk(key)  # its runs stay this query's answer, kept nowhere
        log.key = ""
    return log


def _dumps(value: object) -> str:
    # ASCII: a path or ref that is not UTF-8 (kept as surrogates) round-trips as \udcXX
    return json.dumps(value, separators=(",", ":"))


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


def code_pathspec(config: Config) -> list[str]:
    """Everything but the log directory, dvc.yaml and .gitignore files (run commits add
    lines for their artifacts; the hooks' ignore_paths do not count them as code either):
    what 'code' means between runs."""
    return [".", f":(exclude){config.log_dir}", ":(exclude)dvc.yaml",
            ":(exclude,glob)**/.gitignore"]


def code_changes(repo: Repo, config: Config, index: Index, log: RunLog) -> \
        list[list[str] | None]:
    """Per run, the code files changed since its previous run (None for a line's first)."""
    if log._column is not None and len(log._column) == len(log.runs) and not log.missing():
        return log._column  # type: ignore[return-value]
    if log._column is None or len(log._column) != len(log.runs):
        log._column = [MISSING if r.previous else None for r in log.runs]
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


def _selects_none(repo: Repo, tokens: list[str]) -> bool:
    proc = run_git(["rev-list", "-n1", *tokens, "--"], repo.root, check=False)
    return proc.returncode == 0 and not proc.stdout.strip()


def _empty_range(repo: Repo, config: Config, revs: list[str]) -> GitlogError | None:
    """The error for revisions that select no commit at all (``main..main``, ``A..B``
    with B in A's history, ``^A B`` alike), else None."""
    if not _selects_none(repo, [map_revision(repo, config, r) for r in revs]):
        return None
    if len(revs) == 1 and ".." in revs[0]:
        sep = "..." if "..." in revs[0] else ".."
        left, right = revs[0].split(sep, 1)
        start, end = left or "HEAD", right or "HEAD"
        swapped = f"{right}{sep}{left}"
        if sep == ".." and not _selects_none(repo, [map_revision(repo, config, swapped)]):
            hint = (f"A..B lists the commits of B that A lacks, and {end} is in the history "
                    f"of {start}: swap the ends, {swapped}")
        else:
            same = f"both ends are {end}" if start == end else \
                f"{start} and {end} are the same commit"
            hint = f"{same}: name it alone ({end}), or a range from an older commit " \
                f"({end}~5..{end})"
        return GitlogError(f"the range {revs[0]} selects no commit", hint=hint)
    return GitlogError(f"the revisions {' '.join(revs)} select no commit",
                       hint="each ^REV (or A in A..B) leaves out the commits REV holds: leave "
                            "out less, or name the branch alone")


def no_runs_error(revs: Any, all_: bool, fell_back: bool = False, *,
                  repo: Repo | None = None, config: Config | None = None,
                  skipped: Sequence[str] = ()) -> GitlogError:
    """The walk found no run; with ``repo`` and ``config``, the hint says where the runs
    are when they were logged under an earlier ``log_dir``, or that a shallow clone may
    hold none. ``skipped``: the walk's warnings of runs it skipped (a metrics.json that
    is not a JSON object), the first said in the error: they were lost with the rows,
    and "no runs found, log one" was all a user with such runs was told."""
    where = "any experiment" if all_ or fell_back or not revs else " ".join(revs)
    hint = "log one: gitlog run -e NAME -- python train.py"
    if repo is not None and config is not None and revs and not all_ and not skipped:
        empty = _empty_range(repo, config, list(revs))
        if empty is not None:  # no commit to hold a run: "log one" would mislead
            return empty
    if repo is not None and config is not None:
        from .logdirs import moved_hint

        hint = moved_hint(repo, config, hint)
        if hint.startswith("log one") and (repo.common_dir / "shallow").exists():
            hint = ("this is a shallow clone: its runs may be on experiment branches it "
                    "did not fetch (gitlog pull --all) or older than its history (git fetch "
                    "--unshallow)")
        if where == "any experiment":
            from .branches import deploy_branches

            deployed = deploy_branches(repo, config)
            if deployed:  # only deployment windows: name their branch
                hint = (f"deployment windows are on {', '.join(deployed[:3])}"
                        f"{', ...' if len(deployed) > 3 else ''}: name it, e.g. "
                        f"gitlog history --metric requests {deployed[0]}; or {hint}")
    if skipped:
        first = skipped[0].removesuffix("; skipped")
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        return GitlogError(f"no runs found in {where}, {len(skipped)} skipped: {first}{more}",
                           hint="a run's metrics.json holds a JSON object of metrics; "
                                "gitlog show COMMIT shows the rest of that run")
    return GitlogError(f"no runs found in {where}", hint=hint)


"""``gitlog bisect``: find the first code version whose metric crosses a threshold.

``git bisect run`` is driven in a temporary worktree, so the user's checkout, index and
HEAD stay as they are (bisect state is per worktree). At each step the code tree checked
out is looked up among logged runs (run.yaml ``code_tree``): a run of that exact code is
reused; otherwise COMMAND runs there as a new logged run (experiment ``bisect`` by
default). A step is bad when the metric is on the worse side of the threshold (the side
``metrics.better`` calls worse), and skipped when the run fails or lacks the metric.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config, load
from .details import details
from .errors import GitlogError, RevisionError
from .git import Repo, run_git, stream_command, stream_git
from .historyquery import metric_names, no_direction_error, one_metric
from .index import Index
from .query import find_rev
from .runlog import collect

GOOD, BAD, SKIP = 0, 1, 125


@dataclass
class BisectStep:
    commit: str            # the code version tested
    verdict: str           # good | bad | skip
    value: float | None
    run_commit: str | None
    reused: bool
    note: str = ""


@dataclass
class BisectResult:
    first_bad: str | None
    subject: str = ""
    author: str = ""
    value: float | None = None
    steps: list[BisectStep] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # when skips leave several


def code_version(repo: Repo, config: Config, rev: str) -> str:
    """The code commit ``rev`` names: a run commit stands for the code it ran."""
    sha = find_rev(repo, config, rev)
    if sha is None:
        raise RevisionError(rev, "unknown revision, experiment or run id",
                            hint=repo.unknown_hint(rev, "name a code commit, a run commit "
                                                   "or id, or an experiment"))
    code = repo.git("log", "-1", "--format=%(trailers:key=Gitlog-Code,valueonly)", sha).strip()
    if code and code != "none" and repo.rev_parse(code):
        return code
    return sha


def bisect(metric: str, threshold: float, good: str, bad: str, command: Sequence[str], *,
           experiment: str = "bisect", repo: str | Path | Repo = ".",
           output: Callable[[str], None] | None = None) -> BisectResult:
    """Find the first code version between ``good`` and ``bad`` whose ``metric`` is on the
    worse side of ``threshold`` (``gitlog bisect``), in a temporary worktree: the
    checkout, index and HEAD are left alone.

    metric: one metric name (or a list of one).
    threshold: the value that splits good from bad (a finite number).
    good, bad: code versions (a commit, tag or branch; a run commit or run id stands for
        the code it ran).
    command: what runs at a version no logged run covers: a command line ("python
        train.py") or a list of arguments; it runs as a new run of ``experiment``.
    experiment: the experiment those runs go to (default "bisect").
    repo: the repository, or a folder inside it (the command runs in its copy there).
    output: called with each progress line (the CLI prints them); default: none.

    Returns a ``BisectResult``: ``first_bad`` (a commit, or None), its ``subject``,
    ``author`` and ``value``, the ``steps`` tested and ``candidates`` when skips leave
    several.
    """
    from .apiargs import text_arg

    for arg_name, arg, example in (("good", good, "v1.0"), ("bad", bad, "main"),
                                   ("experiment", experiment, "bisect")):
        text_arg(arg, "bisect", arg_name, example, required=True)
    checked = repo if isinstance(repo, Repo) else Repo(repo)  # (checks repo= first)
    folder = repo.root if isinstance(repo, Repo) else Path(repo).expanduser().resolve()
    repo = checked
    config = load(repo.root)
    # COMMAND runs in the worktree's copy of the folder bisect was started in (or named)
    subdir = folder.relative_to(repo.root).as_posix() if folder.is_relative_to(repo.root) \
        else "."
    if isinstance(command, str):  # one string is a command line, not its characters
        command = shlex.split(command)
    if not command:
        raise GitlogError("no command to run at each step",
                          hint="gitlog bisect --metric loss --threshold 0.3 --good A --bad B "
                               "-- python train.py")
    _check_program(list(command), folder)
    metric = one_metric(metric, "bisect")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or \
            not math.isfinite(threshold):  # nan: every step good; inf: nothing bad
        raise GitlogError(f"bad --threshold {threshold!r}: not a finite number",
                          hint="give the value that splits good from bad: --threshold 0.3")
    lower = config.lower(metric)
    if lower is None:
        raise no_direction_error([metric], "bisect tells bad runs from good ones")
    _check_branch_free(repo, config, experiment)
    good_sha, bad_sha = code_version(repo, config, good), code_version(repo, config, bad)
    _check_range(repo, config, good, bad, good_sha, bad_sha)
    bad_above = lower
    ends = _check_endpoints(repo, config, metric, threshold, bad_above, [good, bad],
                            [good_sha, bad_sha])
    say = output or (lambda _line: None)
    base = Path(tempfile.mkdtemp(prefix="gitlog-bisect-"))
    worktree = base / "work"
    state = base / "state.json"
    steps_log = base / "steps.jsonl"
    failure = base / "error.json"
    state.write_text(json.dumps({
        "metric": metric, "names": metric_names(config, metric), "threshold": threshold,
        "bad_above": bad_above, "experiment": experiment,
        "command": list(command), "log": str(steps_log), "error": str(failure),
        "repo": str(repo.root),
        "subdir": subdir,
    }))
    lines: list[str] = []
    try:
        repo.git("worktree", "add", "--detach", str(worktree), bad_sha)
        start = run_git(["bisect", "start", bad_sha, good_sha], worktree, check=False)
        if start.returncode != 0:  # git says why on stderr or, for some, on stdout
            problem = (start.stderr or start.stdout).decode(errors="replace").strip() \
                .splitlines() or [f"exit {start.returncode}"]
            raise GitlogError(f"git bisect could not start: {problem[-1]}",
                              hint="check that --good is an ancestor of --bad")

        def keep(line: str) -> None:
            lines.append(line)
            say(line)

        step_argv = [sys.executable, "-m", "gitlog.cli.bisect_step", str(state)]
        code = stream_git(["bisect", "run", *step_argv], worktree, keep)
        if any(" is the first bad commit" in line for line in lines):
            _test_ends(worktree, step_argv, steps_log, [good_sha, bad_sha], ends, keep)
    finally:
        if worktree.exists():
            run_git(["bisect", "reset"], worktree, check=False)
        repo.git("worktree", "remove", "--force", str(worktree), check=False)
        repo.git("worktree", "prune", check=False)
        steps = _read_steps(steps_log)
        stopped = json.loads(failure.read_text()) if failure.exists() else None
        shutil.rmtree(base, ignore_errors=True)
    if stopped:  # a step could not judge its version: its error, not git's "run failed"
        raise GitlogError(f"bisect stopped at {stopped['commit'][:10]}: {stopped['error']}",
                          hint=stopped.get("hint"))
    text = "\n".join(lines)
    found = re.search(r"^([0-9a-f]{40,64}) is the first bad commit", text, re.M)
    # git names a first bad version past skipped ones ("We continue anyway"): with no
    # logged run at an end either, that answer has no ground at all
    if steps and {s.verdict for s in steps} == {"skip"} and (found is None or None in ends):
        raise GitlogError(
            f"every version tested was skipped ({len(steps)}): the command failed "
            f"or logged no {metric} at each", hint=f"see why with 'gitlog logs "
            f"{shlex.quote(experiment)}', or run {shlex.join(command)} by hand")
    base_bad = re.search(r"^The merge base ([0-9a-f]{40,64}) is bad", text, re.M)
    if found is None and base_bad:  # --good is on another line of history than --bad
        raise _bad_merge_base(base_bad.group(1), good, bad, metric, steps)
    if found is None:
        if "only 'skip'ped commits left" in text:
            shas = re.findall(r"^([0-9a-f]{40,64})$", text, re.M)
            return BisectResult(None, steps=steps, candidates=shas)
        tail = "\n".join(lines[-5:]) or f"exit {code}"
        raise GitlogError(f"git bisect run did not finish:\n{tail}",
                          hint="check that --good is good and --bad is bad for this "
                               "threshold")
    _check_tested_ends(steps, [good, bad], [good_sha, bad_sha], ends, metric, threshold,
                       bad_above)
    first = found.group(1)
    subject, author = repo.git("log", "-1", "--format=%s%x00%an <%ae>", first).strip() \
        .split("\0", 1)
    value = next((s.value for s in steps if s.commit == first), None)
    return BisectResult(first, subject, author, value, steps)


def _bad_merge_base(base: str, good: str, bad: str, metric: str,
                    steps: list[BisectStep]) -> GitlogError:
    """--good is no ancestor of --bad: git tested where their histories meet, and it is
    bad, so the metric crossed before --good's line branched off (and came back there)."""
    value = next((s.value for s in steps if s.commit == base and s.value is not None), None)
    shown = "" if value is None else f" ({metric}={value:.6g})"
    return GitlogError(f"--good {good} is not an ancestor of --bad {bad}, and the version "
                       f"where their histories meet, {base[:10]}, is already bad{shown}",
                       hint=f"pass as --good an older version that is good (see 'git log "
                            f"--oneline {base[:10]}')")


def _check_branch_free(repo: Repo, config: Config, experiment: str) -> None:
    """New runs are committed to the experiment's branch, which a run never moves under a
    working tree: refuse that before any step (each would stop bisect alike)."""
    ref = config.branch(experiment)
    folder = repo.worktree_on(ref)
    if folder is None:
        return
    from .experiments import switch_away

    here = folder.resolve() == repo.root.resolve()
    branch = ref[len("refs/heads/"):]
    raise GitlogError(
        f"{branch} is checked out {'here' if here else 'in another worktree'} ({folder}): "
        "bisect's new runs would move that branch under its working tree",
        hint=f"log them to another experiment (-e {shlex.quote(experiment)}-2), or "
             + (f"switch away first ({switch_away(repo, config)})" if here else
                f"free it first (git -C {shlex.quote(str(folder))} checkout --detach)"))


def _check_program(command: list[str], folder: Path) -> None:
    """A program looked up on PATH is missing at every version: say so before any step
    (a path, ``./train.sh``, may come and go with the versions: a step without it is
    skipped)."""
    from .procrun import _not_runnable

    if os.sep not in command[0] and shutil.which(command[0]) is None:
        raise _not_runnable(command, folder)


def _check_range(repo: Repo, config: Config, good: str, bad: str, good_sha: str,
                 bad_sha: str) -> None:
    """Refuse what git bisect cannot start from, saying why (git's own words are terse).
    Two commits of one code tree (runs that changed only params) are one version."""
    if good_sha == bad_sha or \
            _code_tree(repo, config, good_sha) == _code_tree(repo, config, bad_sha):
        raise GitlogError(f"--good {good} and --bad {bad} are the same code version "
                          f"({good_sha[:10]}): nothing to bisect",
                          hint=f"pass an older version that is good as --good (see 'git log "
                               f"--oneline {shlex.quote(bad)}')")
    if repo.is_ancestor(bad_sha, good_sha):
        raise GitlogError(f"--bad {bad} is older than --good {good} (an ancestor of it): "
                          "bisect looks for the first bad version after a good one",
                          hint=f"swap them: --good {shlex.quote(bad)} --bad {shlex.quote(good)}")


def _check_endpoints(repo: Repo, config: Config, metric: str, threshold: float,
                     bad_above: bool, revs: list[str],
                     code: list[str]) -> list[tuple[str, float] | None]:
    """Refuse, before any step runs COMMAND, a metric that the logged runs of the good and
    bad versions lack, and a --good whose logged run is already bad or a --bad whose run
    is good: git bisect never tests either end, so it would name a wrong version. Versions
    with no run that logged metrics leave nothing to check against."""
    with Index(repo.gitlog_dir, config.log_dir) as index:
        log = collect(repo, config, index, all_=True)
        if not log.runs:
            return [None, None]
        trees = details(repo, config, index, [r.facts.commit for r in log.runs])
    names = metric_names(config, metric)
    seen: set[str] = set()
    ends: list[tuple[str, float] | None] = []
    for rev, sha in zip(revs, code, strict=True):
        named, tree = find_rev(repo, config, rev), _code_tree(repo, config, sha)
        runs = [e for e in log.runs if trees[e.facts.commit][1] == tree]
        runs += [e for e in log.runs if e.facts.commit == named and e not in runs]
        for entry in runs:
            seen.update(entry.facts.metrics())
            seen.update(n for n in names if entry.facts.metric([n], finite=False) is not None)
        ends.append(_logged(runs, names))
    if seen and not any(n in seen for n in names):
        if any(e.facts.metric(names, flags=True) is not None for e in log.runs):
            from .historyquery import only_flags_error

            raise only_flags_error(metric, "bisect")
        known = sorted(seen)
        shown = ", ".join(known[:15]) + (" ..." if len(known) > 15 else "")
        raise GitlogError(f"no run of --good or --bad has the metric {metric}",
                          hint=f"metrics in these runs: {shown}")
    for option, rev, end, want_bad in (("--good", revs[0], ends[0], False),
                                       ("--bad", revs[1], ends[1], True)):
        if end is not None and _is_bad(end[1], threshold, bad_above) != want_bad:
            raise _wrong_end(option, rev, end[0], end[1], metric, threshold, bad_above, ends)
    return ends


def _test_ends(worktree: Path, step_argv: list[str], steps_log: Path, code: list[str],
               ends: list[tuple[str, float] | None], keep: Callable[[str], None]) -> None:
    """git took the ends as the user said: an end with no logged run, when no version
    tested agrees with it, is the answer's only ground; test it as a step too."""
    verdicts = {s.verdict for s in _read_steps(steps_log)}
    for sha, end, verdict in ((code[1], ends[1], "bad"), (code[0], ends[0], "good")):
        if end is None and verdict not in verdicts:
            run_git(["bisect", "reset"], worktree, check=False)
            run_git(["checkout", "-q", "--detach", sha], worktree)
            stream_command(step_argv, worktree, keep)


def _check_tested_ends(steps: list[BisectStep], revs: list[str], code: list[str],
                       ends: list[tuple[str, float] | None], metric: str, threshold: float,
                       bad_above: bool) -> None:
    """Refuse the answer when an end ``_test_ends`` tested is on the wrong side."""
    tested = [next((s for s in steps if s.commit == sha and s.value is not None), None)
              for sha in code]
    known = [end or (None if t is None or t.value is None else (t.run_commit or "", t.value))
             for end, t in zip(ends, tested, strict=True)]
    for option, rev, step, want in (("--good", revs[0], tested[0], "good"),
                                    ("--bad", revs[1], tested[1], "bad")):
        if step is not None and step.verdict != want:
            raise _wrong_end(option, rev, step.run_commit or step.commit, step.value, metric,
                             threshold, bad_above, known, tested=True)
    for option, rev, sha, end, want in (("--good", revs[0], code[0], ends[0], "good"),
                                        ("--bad", revs[1], code[1], ends[1], "bad")):
        skipped = next((s for s in steps if s.commit == sha and s.verdict == "skip"), None)
        if end is None and skipped and not any(s.verdict == want for s in steps):
            raise GitlogError(  # git took the end's word: the answer would stand on nothing
                f"{option} {rev} could not be tested ({skipped.note}), and no version "
                f"tested was {want}: no answer", hint=f"pass as {option} a version whose "
                f"run logs {metric}, or log one of {rev} first")


def _wrong_end(option: str, rev: str, run: str, value: float | None, metric: str,
               threshold: float, bad_above: bool, ends: list[tuple[str, float] | None], *,
               tested: bool = False) -> GitlogError:
    """The error for a --good that is bad or a --bad that is good."""
    better = "lower" if bad_above else "higher"
    hint = f"pass a --threshold that --good's {metric} meets and --bad's does not"
    if ends[0] and ends[1] and math.isfinite(ends[0][1]) and math.isfinite(ends[1][1]) \
            and _is_bad(ends[1][1], ends[0][1], bad_above):
        hint += f" (one between {ends[0][1]:.6g} and {ends[1][1]:.6g})"
    state = "is already bad" if option == "--good" else "is not bad"
    which = "its new run" if tested else "its run"
    shown = "no value" if value is None else f"{value:.6g}"
    return GitlogError(f"{option} {rev} {state}: {which} {run[:10]} logged {metric}={shown} "
                       f"vs --threshold {threshold:g} ({better} is better)", hint=hint)


def _logged(runs: list[Any], names: list[str]) -> tuple[str, float] | None:
    """(commit, value) of the newest completed run among ``runs`` that has the metric
    (nan and infinities included: a diverged run is bad), as a bisect step reuses it."""
    for entry in reversed(runs):
        value = entry.facts.metric(names, finite=False)
        if value is not None and entry.facts.status in (None, "completed"):
            return entry.facts.commit, float(value)
    return None


def _is_bad(value: float, threshold: float, bad_above: bool) -> bool:
    """On the worse side of ``threshold``; a diverged run (nan or infinite) is bad, as
    ``history`` calls it worse."""
    if not math.isfinite(value):
        return True
    return value > threshold if bad_above else value < threshold


def _read_steps(path: Path) -> list[BisectStep]:
    if not path.exists():
        return []
    return [BisectStep(**json.loads(line)) for line in path.read_text().splitlines() if line]


def evaluate(state: dict[str, Any], worktree: str | Path = ".") -> tuple[int, BisectStep]:
    """One bisect step in ``worktree``: reuse or make a run, then judge it."""
    tree_repo = Repo(worktree)
    config = load(tree_repo.root)
    head = tree_repo.rev_parse("HEAD") or ""
    code_tree = _code_tree(tree_repo, config, head)
    step = _reuse(tree_repo, config, state, code_tree, head)
    if step is None:
        step = _fresh_run(tree_repo, config, state, head)
    if step.value is None:
        step.verdict = "skip"
        return SKIP, step
    bad = _is_bad(step.value, state["threshold"], state["bad_above"])
    step.verdict = "bad" if bad else "good"
    return (BAD if bad else GOOD), step


def _code_tree(repo: Repo, config: Config, commit: str) -> str:
    tree = repo.git("rev-parse", f"{commit}^{{tree}}").strip()
    if any(name == config.log_dir.split("/")[0] for *_, name in repo.ls_tree(tree)):
        from .store import tree_without

        return tree_without(repo, tree, config.log_dir)
    return tree


def _reuse(repo: Repo, config: Config, state: dict[str, Any], code_tree: str,
           head: str) -> BisectStep | None:
    with Index(repo.gitlog_dir, config.log_dir) as index:
        log = collect(repo, config, index, all_=True)
        if not log.runs:
            return None
        trees = details(repo, config, index, [r.facts.commit for r in log.runs])
    found = _logged([e for e in log.runs if trees[e.facts.commit][1] == code_tree],
                    state["names"])
    if found is None:
        return None
    return BisectStep(head, "", found[1], found[0], True, f"reused run {found[0][:10]}")


def _fresh_run(repo: Repo, config: Config, state: dict[str, Any], head: str) -> BisectStep:
    from .procrun import run_command

    cwd = repo.root / state.get("subdir", ".")
    if not cwd.is_dir():  # the folder the command runs in came later: judge nothing here
        return BisectStep(head, "", None, None, False, f"no folder {state['subdir']} here")
    program = state["command"][0]
    if shutil.which(program if os.sep not in program else str(cwd / program)) is None:
        from .procrun import _not_runnable  # ./train.sh came later, or lost its x bit

        why = f"no {program}" if not os.path.lexists(cwd / program) else \
            _not_runnable(list(state["command"]), cwd).message
        return BisectStep(head, "", None, None, False, f"{why} here")
    result = run_command(list(state["command"]), repo=repo.root,
                         experiment=state["experiment"], cwd=cwd,
                         message=f"{state['experiment']}: bisect step at {head[:10]}",
                         stdout=sys.stderr.buffer, stderr=sys.stderr.buffer)
    commit = result.run.commit
    value = None
    if commit and result.status == "completed":
        with repo.cat_file() as cat:
            got = cat.read(f"{commit}:{config.log_dir}/metrics.json")
        if got and got[0] == "blob":
            from .facts import Facts, parse_metrics

            tree = parse_metrics(got[1])[0]
            found = Facts("", 0, "", "", "", True, tree=tree).metric(
                state["names"], finite=False) if isinstance(tree, dict) else None
            value = None if found is None else float(found)
    note = f"new run {commit[:10]}" if commit else "run not committed"
    if result.status != "completed":
        note += f" ({result.status})"
    return BisectStep(head, "", value, commit, False, note)

"""``gitlog push`` / ``gitlog pull``: experiment branches over git, artifacts over DVC.

Push uploads the artifacts of the runs the git remote lacks first, and moves an
experiment's branch on the git remote only once every artifact of it is on the DVC
remote (DVC uploads content-addressed files, a folder's listing last). A pull therefore
never sees a run whose artifacts are not there, and a push that stopped half-way is
completed by running it again. Pull fetches the branches into ``refs/remotes/``, brings
the new runs' artifacts into the DVC cache, and only then moves the local branches.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .errors import GitlogError, git_failure
from .experiments import checked_out_elsewhere
from .git import Repo, run_git
from .layout import read_run
from .pointers import Artifact

PUSH_OK = ("pushed", "up to date", "behind")
PULL_OK = ("created", "fast-forwarded", "up to date", "ahead", "deleted", "kept")


@dataclass
class BranchResult:
    experiment: str
    action: str            # pushed | up to date | behind | rejected | not pushed | created | ...
    runs: int = 0          # runs sent (push) or received (pull)
    artifacts: int = 0     # artifacts of those runs
    detail: str = ""


@dataclass
class TransferReport:
    remote: str
    results: list[BranchResult] = field(default_factory=list)
    ok_actions: tuple[str, ...] = PUSH_OK
    hint: str | None = None
    note: str | None = None  # said when there is nothing to list (--all of none)

    @property
    def failed(self) -> list[BranchResult]:
        return [r for r in self.results if r.action not in self.ok_actions]

    @property
    def ok(self) -> bool:
        return not self.failed


def check_remote(repo: Repo, remote: str) -> None:
    if remote not in repo.git("remote").split():
        raise GitlogError(f"no git remote named {remote!r}",
                          hint=f"git remote add {remote} URL (or pass --remote NAME)")


def _experiments(repo: Repo, pattern: str) -> dict[str, str]:
    """{experiment: tip} of the refs under ``pattern``."""
    out = repo.git("for-each-ref", "--format=%(refname)%00%(objectname)", pattern)
    found = {}
    for line in out.splitlines():
        ref, sha = line.split("\0")
        found[ref[len(pattern):]] = sha
    return found


def _choose(available: dict[str, str], experiments: tuple[str, ...] | list[str], all_: bool,
            repo: Repo, config: Config, where: str) -> list[str]:
    if all_:
        return sorted(available)
    if not experiments:
        head = repo.head().branch or ""
        prefix = "refs/heads/" + config.prefix
        if not head.startswith(prefix):
            verb = "push" if where == "to push" else "pull"
            raise GitlogError("no experiment given", hint=f"name them (gitlog {verb} "
                              "baseline) or pass --all")
        experiments = [head[len(prefix):]]  # the one checked out
    experiments = [_short_name(config, e, available) for e in experiments]
    missing = [e for e in experiments if e not in available]
    if missing:
        from .branches import no_local_branch_hint

        if where == "to push":
            hint = no_local_branch_hint(repo, config, missing[0])
        elif repo.ref_tip(config.branch(missing[0])):
            hint = f"only this clone has it: gitlog push {shlex.quote(missing[0])}"
        else:
            hint = "list experiments with 'gitlog ls'"
        raise GitlogError(f"no experiment {missing[0]!r} {where}", hint=hint)
    return list(dict.fromkeys(experiments))


def _short_name(config: Config, name: str, available: dict[str, str]) -> str:
    """An experiment given as ``exp/NAME``, as every command takes it, is NAME."""
    if name in available or not name.startswith(config.prefix):
        return name
    return name[len(config.prefix):] or name


def _new_runs(repo: Repo, cat: Any, config: Config, tip: str,
              exclude: list[str]) -> tuple[int, list[tuple[str, Artifact]]]:
    """(runs, [(run id, artifact)]) of the runs reachable from ``tip`` and not from
    ``exclude`` (revisions or ``--remotes=...``/``--branches`` options). A run is what
    ``gitlog ls`` counts (``runcount``): a commit changing run.yaml or metrics.json, not
    a README edit on top of a run, nor the merge of a diverged experiment that takes one
    side's run files (that side's run is counted, or is on the remote already)."""
    from .facts import log_paths
    from .runcount import merge_runs

    paths = log_paths(config.log_dir)
    changed = [line.split() for line in repo.git(
        "log", "--full-history", "--format=%H %P", tip, "--not", *exclude, "--",
        *paths).splitlines() if line]
    own = {line[0] for line in changed if len(line) <= 2}
    own |= merge_runs(repo, paths, [line for line in changed if len(line) > 2])
    commits = [line[0] for line in changed if line[0] in own]
    runs = 0
    arts: list[tuple[str, Artifact]] = []
    for commit in commits:
        record = read_run(cat, commit, config.log_dir, events=False)
        if record is None:
            continue
        runs += 1
        arts.extend((str(record.run.get("id")), a) for a in record.artifacts)
    return runs, arts


def _artifacts_ever(repo: Repo, cat: Any, config: Config, tip: str) -> set[str]:
    """md5s of every artifact of the runs reachable from ``tip``: only the commits that
    change the artifact pointers are read (the others hold the same ones, or none)."""
    commits = repo.git("rev-list", tip, "--", f"{config.log_dir}/artifacts").split()
    md5s: set[str] = set()
    for commit in commits:
        record = read_run(cat, commit, config.log_dir, events=False)
        if record is not None:
            md5s.update(a.md5 for a in record.artifacts)
    return md5s


def _artifact_problem(arts: list[tuple[str, Artifact]], absent: dict[str, str]) -> str:
    bad = [(run_id, a) for run_id, a in arts if a.md5 in absent]
    if not bad:
        return ""
    run_id, art = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return f"artifact {art.name!r} of run {run_id}: {absent[art.md5]}{more}"


def _dvc_sync(repo: Repo, md5s: set[str], dvc_remote: str | None, push: bool,
              progress: bool, published: set[str] | None = None,
              ) -> tuple[dict[str, str], Any, set[str]]:
    """Push or fetch ``md5s``; ({md5: why} for the ones that did not make it, the
    RemoteError that stopped everything or None, the ``published`` md5s uploaded too).

    ``published``: artifacts of runs the git remote has already; a push uploads the ones
    this cache holds and the DVC remote lacks (runs that reached git with ``git push
    --no-verify``, or pushed to another DVC remote). Best effort: they never stop a push.
    """
    from .artifacts import DvcMissingError, RemoteError, open_dvc

    extra = (published or set()) - md5s if push else set()
    if not md5s and not extra:
        return {}, None, set()
    try:
        with open_dvc(repo) as dvc:
            if extra:
                try:
                    extra = dvc.unpublished(extra, dvc_remote)
                except RemoteError as exc:
                    if md5s or not exc.message.startswith("no DVC remote named"):
                        extra = set()  # offline, no DVC remote at all: not this push's job
                    else:  # a misspelt --dvc-remote is said, not skipped
                        return {m: exc.message for m in extra}, exc, extra
            if not md5s and not extra:
                return {}, None, set()
            sync = dvc.push if push else dvc.fetch
            return sync(sorted(md5s | extra), dvc_remote, progress), None, extra
    except DvcMissingError:
        if md5s:
            raise
        return {}, None, set()
    except RemoteError as exc:
        return {md5: exc.message for md5 in md5s}, exc, set()


def push(repo: Repo, config: Config, experiments: tuple[str, ...] | list[str] = (),
         all_: bool = False, remote: str | None = None, dvc_remote: str | None = None,
         progress: bool = False) -> TransferReport:
    """Push experiment branches to the git remote, their artifacts to the DVC remote.
    ``progress`` shows DVC's progress bars (the CLI sets it on a terminal)."""
    remote = remote or config["remote"]["git"]
    dvc_remote = dvc_remote or config["remote"]["dvc"]
    check_remote(repo, remote)
    local = _experiments(repo, f"refs/heads/{config.prefix}")
    chosen = _choose(local, experiments, all_, repo, config, "to push")
    pending: dict[str, tuple[int, list[tuple[str, Artifact]]]] = {}
    earlier: dict[str, set[str]] = {}  # artifacts of the runs the git remote has
    with repo.cat_file() as cat:
        for exp in chosen:
            pending[exp] = _new_runs(repo, cat, config, local[exp], [f"--remotes={remote}"])
            new = {a.md5 for _, a in pending[exp][1]}
            earlier[exp] = _artifacts_ever(repo, cat, config, local[exp]) - new
    md5s = {a.md5 for _, arts in pending.values() for _, a in arts}
    absent, stop, uploaded = _dvc_sync(repo, md5s, dvc_remote, True, progress,
                                       set().union(*earlier.values()))
    report = TransferReport(remote, hint=stop.hint if stop else None)
    if not chosen:
        report.note = f"no experiments to push: this clone has no {config.prefix}* branches"
    ready = []
    for exp in chosen:
        runs, arts = pending[exp]
        problem = _artifact_problem(arts, absent)
        if problem:
            report.results.append(BranchResult(exp, "not pushed", runs, len(arts), problem))
        else:
            ready.append(exp)
    report.results.extend(_git_push(repo, config, remote, ready, pending))
    for result in report.results:
        done = earlier[result.experiment] & uploaded
        if done and result.action in PUSH_OK:
            sent, failed = done - absent.keys(), done & absent.keys()
            result.action = "not pushed" if failed else "pushed"
            why = absent[min(failed)] if failed else ""
            result.detail = "; ".join(filter(None, (
                result.detail,
                f"uploaded {len(sent)} artifact(s) of runs already on the git remote"
                if sent else "",
                f"{len(failed)} artifact(s) of runs already on the git remote not uploaded: "
                f"{why}" if failed else "")))
    report.results.sort(key=lambda r: r.experiment)
    if report.failed and report.hint is None:
        rejected = [r.experiment for r in report.failed if r.action == "rejected"]
        report.hint = f"gitlog pull {' '.join(rejected)}, then gitlog push again" \
            if len(rejected) == len(report.failed) else \
            "fix what is named above, then run the same gitlog push again"
    return report


def _git_push(repo: Repo, config: Config, remote: str, ready: list[str],
              pending: dict[str, tuple[int, list[tuple[str, Artifact]]]]) -> list[BranchResult]:
    if not ready:
        return []
    refs = {f"refs/heads/{config.prefix}{exp}": exp for exp in ready}
    proc = run_git(["push", "--porcelain", remote, *(f"{r}:{r}" for r in refs)], repo.root,
                   check=False)
    status: dict[str, tuple[str, str]] = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and ":" in parts[1]:
            status[parts[1].split(":", 1)[0]] = (parts[0], parts[2])
    why = "git push failed: " + (git_failure(proc.stderr.decode("utf-8", "replace")) or
                                 f"exit {proc.returncode}")
    out = []
    for ref, exp in refs.items():
        runs, arts = pending[exp]
        flag, summary = status.get(ref, ("", why))
        if flag == "=":
            out.append(BranchResult(exp, "up to date"))
        elif flag in (" ", "*", "+"):
            out.append(BranchResult(exp, "pushed", runs, len(arts)))
        elif flag == "!" and ("fetch first" in summary or "non-fast-forward" in summary):
            out.append(_behind_or_rejected(repo, config, remote, exp, runs, len(arts), summary))
        elif flag == "!":
            out.append(BranchResult(exp, "rejected", runs, len(arts), summary))
        else:
            out.append(BranchResult(exp, "not pushed", runs, len(arts), summary))
    return out


def _behind_or_rejected(repo: Repo, config: Config, remote: str, exp: str, runs: int,
                        arts: int, summary: str) -> BranchResult:
    """A push git refused as not a fast-forward: the remote's branch is fetched (into
    ``refs/remotes/``, as ``gitlog pull`` does) to tell a clone that is only behind it
    (nothing to push: ``behind``) from one whose runs diverged from it (``rejected``)."""
    branch = f"{config.prefix}{exp}"
    tracking = f"refs/remotes/{remote}/{branch}"
    fetched = run_git(["fetch", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}"],
                      repo.root, check=False).returncode == 0
    mine, theirs = repo.ref_tip(config.branch(exp)), repo.ref_tip(tracking)
    if not fetched or mine is None or theirs is None:
        return BranchResult(exp, "rejected", runs, arts, f"{summary}: the remote has runs "
                            f"this clone lacks; gitlog pull {exp}")
    with repo.cat_file() as cat:
        missing = _new_runs(repo, cat, config, theirs, [mine])[0]
        extra = _new_runs(repo, cat, config, mine, [theirs])[0]
    if repo.is_ancestor(mine, theirs):
        return BranchResult(exp, "behind", detail=f"behind the remote by {missing} run(s), "
                            f"nothing to push; take them with: gitlog pull {exp}")
    return BranchResult(exp, "rejected", runs, arts, f"{summary}: {_apart(missing, extra)}"
                        f"; gitlog pull {exp} says how to keep both")


def _apart(remote_only: int, here_only: int) -> str:
    """How two sides of an experiment that moved apart differ, in runs: a side's commits
    may hold none (main merged in, a README edit), and 'both sides logged runs' would
    then be false."""
    counts = f"{remote_only} on the remote only, {here_only} here only"
    if remote_only and here_only:
        return f"both sides logged runs ({counts})"
    return f"both sides have commits the other lacks (runs: {counts})"


def pull(repo: Repo, config: Config, experiments: tuple[str, ...] | list[str] = (),
         all_: bool = False, remote: str | None = None, dvc_remote: str | None = None,
         artifacts: bool = True, progress: bool = False) -> TransferReport:
    """Fetch experiment branches from the git remote and their artifacts from DVC."""
    remote = remote or config["remote"]["git"]
    dvc_remote = dvc_remote or config["remote"]["dvc"]
    check_remote(repo, remote)
    tracking = f"refs/remotes/{remote}/{config.prefix}"
    spec = f"+refs/heads/{config.prefix}*:{tracking}*"
    before = _experiments(repo, tracking)
    # --prune: what the remote deleted leaves refs/remotes/ (under this refspec only)
    proc = run_git(["fetch", "--prune", "--no-tags", remote, spec], repo.root, check=False)
    if proc.returncode != 0:
        err = git_failure(proc.stderr.decode("utf-8", "replace"))
        raise GitlogError(f"git fetch from {remote!r} failed: {err}",
                          hint="check the remote with 'git remote -v' and that it is reachable")
    available = _experiments(repo, tracking)
    gone = sorted(set(before) - set(available))
    head = repo.head().branch
    named = [_short_name(config, e, before) for e in experiments]
    prefix = "refs/heads/" + config.prefix
    if not named and not all_ and head and head.startswith(prefix) and \
            head[len(prefix):] in gone:
        named = [head[len(prefix):]]
    left = [e for e in named if e not in gone]
    chosen = [] if named and not left else \
        _choose(available, left, all_, repo, config, f"on remote {remote!r}")
    report = TransferReport(remote, ok_actions=PULL_OK)
    if not chosen:
        report.note = f"no experiments to pull: remote {remote!r} has no {config.prefix}* " \
            "branches"
    todo: dict[str, tuple[int, list[tuple[str, Artifact]]]] = {}
    with repo.cat_file() as cat:
        for exp in gone:  # deleted on the remote: its branch here too, if nothing is lost
            from .pruning import settle

            tip = repo.ref_tip(config.branch(exp))
            only_here = _new_runs(repo, cat, config, tip, ["--remotes"])[0] if tip else None
            action, detail = settle(repo, config, remote, exp, only_here)
            report.results.append(BranchResult(exp, action, detail=detail))
        for exp in chosen:
            ref = config.branch(exp)
            mine, theirs = repo.ref_tip(ref), available[exp]
            if mine == theirs:
                report.results.append(BranchResult(exp, "up to date"))
            elif mine and repo.is_ancestor(theirs, mine):
                report.results.append(BranchResult(exp, "ahead", detail="this clone has "
                                                   f"runs to push: gitlog push {exp}"))
            elif mine and not repo.is_ancestor(mine, theirs):
                apart = _apart(_new_runs(repo, cat, config, theirs, [mine])[0],
                               _new_runs(repo, cat, config, mine, [theirs])[0])
                report.results.append(BranchResult(
                    exp, "diverged", detail=_merge_advice(
                        config, remote, exp, ref == head, _ignores_apart(repo, mine, theirs),
                        apart)))
            else:
                todo[exp] = _new_runs(repo, cat, config, theirs, [mine] if mine else
                                      ["--branches"])
    md5s = {a.md5 for _, arts in todo.values() for _, a in arts} if artifacts else set()
    absent, stop, _ = _dvc_sync(repo, md5s, dvc_remote, False, progress)
    lacking: list[str] = []  # not updated: artifacts the DVC remote does not have
    if stop is not None:
        report.hint = f"{stop.hint}; or pass --no-artifacts to take the runs without " \
            "their artifacts (gitlog get fetches one later)"
    for exp, (runs, arts) in todo.items():
        ref = config.branch(exp)
        mine, theirs = repo.ref_tip(ref), available[exp]
        problem = _artifact_problem(arts, absent) if artifacts else ""
        if problem:
            report.results.append(BranchResult(exp, "not updated", runs, len(arts), problem))
            if all(absent[a.md5] != "download failed" for _, a in arts if a.md5 in absent):
                lacking.append(exp)
        elif ref == head:
            report.results.append(BranchResult(
                exp, "not updated", runs, len(arts), f"checked out here; artifacts are "
                f"fetched, update it with: git merge --ff-only {remote}/{config.prefix}{exp}"))
        elif holder := checked_out_elsewhere(repo, ref):
            report.results.append(BranchResult(
                exp, "not updated", runs, len(arts), f"checked out in the worktree {holder};"
                f" artifacts are fetched, update it with: git -C {shlex.quote(holder)} merge "
                f"--ff-only {remote}/{config.prefix}{exp}"))
        elif (why := repo.move_ref(ref, theirs, mine, f"gitlog pull {remote}")) is None:
            report.results.append(BranchResult(exp, "fast-forwarded" if mine else "created",
                                               runs, len(arts) if artifacts else 0))
        else:
            from .refmove import blocked

            stop = blocked(ref, why, "update it")
            report.results.append(BranchResult(
                exp, "not updated", runs, len(arts),
                f"{stop.message}; {stop.hint}" if stop else
                "the branch moved meanwhile; pull again"))
    report.results.sort(key=lambda r: r.experiment)
    failed = [r.experiment for r in report.failed]
    if failed and report.hint is None and failed == sorted(lacking):
        names = " ".join(shlex.quote(e) for e in failed)
        report.hint = f"the DVC remote lacks them: run 'gitlog push {names}' where the runs " \
            f"were logged, then pull again; or take the runs alone: gitlog pull {names} " \
            "--no-artifacts"
    elif report.failed and report.hint is None:
        report.hint = "merge as said above, then gitlog push" if all(
            r.action == "diverged" for r in report.failed) else \
            "fix what is named above, then run the same gitlog pull again"
    return report


def _ignores_apart(repo: Repo, mine: str, theirs: str) -> list[str]:
    """The ``.gitignore`` files both diverged sides changed: each side's run commits add
    lines for their own artifacts, and a merge conflicts on them."""
    base = repo.git("merge-base", mine, theirs, check=False).strip()
    if not base:
        return []
    changed = [set(repo.git("diff", "--name-only", "--no-renames", base, tip, "--",
                            ":(glob)**/.gitignore").splitlines()) for tip in (mine, theirs)]
    return sorted(changed[0] & changed[1])


def _merge_advice(config: Config, remote: str, exp: str, checked_out: bool,
                  ignores: list[str] | tuple[str, ...] = (),
                  apart: str = "both sides logged runs") -> str:
    """What to do with a branch both clones logged runs to: the git commands that keep
    both sides' runs (each run commit stays in history; the merge's log folder is one
    side's, as the files of two runs cannot be merged line by line: exactly the remote's,
    restored from MERGE_HEAD, as 'git checkout --theirs' would keep the files only this
    side's run wrote, a series or an artifact pointer, beside the other run's; a
    ``.gitignore`` keeps both sides' lines, in order, once each)."""
    branch = f"{config.prefix}{exp}"
    log_dir = shlex.quote(config.log_dir)
    checkout = "" if checked_out else f"git checkout {shlex.quote(branch)} && "
    both = "".join(f"{{ git show HEAD:{q}; git show MERGE_HEAD:{q}; }} 2>/dev/null | "
                   f"awk '!seen[$0]++' > {q} && git add {q} && " for q in map(shlex.quote,
                                                                            ignores))
    where = f"{log_dir}/ and .gitignore files" if ignores else f"{log_dir}/"
    keep = "take the remote's run files and both sides' ignore lines" if ignores else \
        "take the remote's run files"
    return (f"{apart}; {remote}/{branch} is fetched, keep both: {checkout}"
            f"git merge {shlex.quote(f'{remote}/{branch}')}; on conflicts in {where} {keep}: "
            f"git restore --source=MERGE_HEAD --staged --worktree {log_dir} && {both}"
            f"git commit --no-edit; then gitlog push {shlex.quote(exp)}")

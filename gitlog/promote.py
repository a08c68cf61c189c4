"""``gitlog exp promote NAME --into main``: merge a winning experiment, results included.

The merge is computed without a working tree (``git merge-tree --write-tree``) and
committed with plumbing, its message carrying the run's metric summary and trailers.
Then the target branch moves: by a compare-and-swap ref update when it is not checked
out, or by ``git merge --ff-only`` when HEAD is on it, which keeps uncommitted work
(git refuses, and nothing moves, if that work is in the way). A conflict changes
nothing and says which files to merge by hand.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from .errors import GitCommandError, GitlogError
from .experiments import _last_line, _open, checked_out_elsewhere, experiment_name
from .git import Repo, run_git
from .layout import read_run
from .query import run_holder
from .runfiles import summary_line


@dataclass
class Promotion:
    experiment: str
    branch: str
    target: str
    commit: str
    run: str | None
    summary: str
    worktree: bool   # HEAD was on the target: the working tree moved with it


def promote(path: str | Path | Repo, name: str, into: str | None = None,
            message: str | None = None) -> Promotion:
    """Merge experiment ``name`` into ``into`` (default: main_branch); return the merge."""
    repo, config = _open(path)
    name = experiment_name(config, name)
    source_ref = config.branch(name)
    branch = source_ref[len("refs/heads/"):]
    tip = repo.ref_tip(source_ref)
    if not tip:
        from .branches import no_local_branch_hint

        raise GitlogError(f"no experiment named {name} (no branch {branch})",
                          hint=no_local_branch_hint(repo, config, name))
    target = into or str(config["main_branch"])
    target_ref = target if target.startswith("refs/heads/") else f"refs/heads/{target}"
    target = target_ref[len("refs/heads/"):]
    base = repo.ref_tip(target_ref)
    if not base:
        raise _no_target(repo, target, target_ref, branch, into is None)
    if repo.is_ancestor(tip, base):
        raise GitlogError(f"{branch} is already in {target}: nothing to promote",
                          hint=f"see it with: git log -1 {shlex.quote(target)}")
    with repo.cat_file() as cat:  # commits that log nothing may sit on top of the run
        run_commit = run_holder(repo, config, tip, cat)
        record = read_run(cat, run_commit, config.log_dir, events=False)
        before = read_run(cat, base, config.log_dir, events=False)
    log_one = f"gitlog run -e {shlex.quote(name)} -- python train.py"
    if record is None:
        raise GitlogError(f"{branch} has no run at its tip to promote",
                          hint=f"log one first: {log_one}")
    if repo.is_ancestor(run_commit, base):  # its code on top of a run the target holds
        raise GitlogError(f"{branch} has no run of its own to promote: the run its tip "
                          f"carries ({record.run.get('id') or run_commit[:10]}) is already in "
                          f"{target}", hint=f"log a run of its code first: {log_one}")
    holder = checked_out_elsewhere(repo, target_ref)
    if holder:
        raise GitlogError(f"{target} is checked out in another worktree ({holder})",
                          hint=f"promote from there: cd {shlex.quote(holder)} && "
                               f"gitlog exp promote {shlex.quote(name)} --into "
                               f"{shlex.quote(target)}")
    tree = _merge_tree(repo, base, tip, branch, target)
    summary = summary_line(record.metrics, before.metrics if before else None,
                           list(config["metrics"]["key"]))
    run = record.run
    lines = [message or f"Promote experiment {name} into {target}", ""]
    if summary:
        lines += [summary, ""]
    lines += [f"Gitlog-Run: {run['id']}"] if run.get("id") else []  # none: metrics by hand
    lines += [f"Gitlog-Experiment: {name}"]
    lines += [f"Gitlog-Status: {run['status']}"] if run.get("status") else []
    lines += [f"Gitlog-Promoted: {branch} {tip}"]
    commit = _commit_tree(repo, tree, [base, tip], "\n".join(lines) + "\n")
    here = repo.head().branch == target_ref
    if here:
        try:
            repo.git("merge", "--ff-only", "-q", commit)
        except GitCommandError as exc:
            files = [line.strip() for line in exc.stderr.splitlines()
                     if line.startswith("\t")]
            why = f"local changes to {', '.join(files)} are in the way" if files \
                else _last_line(exc.stderr)
            raise GitlogError(f"promotion stopped: {why}; {target} did not move and your "
                              "files are untouched",
                              hint="commit or stash those changes, then promote again") \
                from None
    elif (refused := repo.move_ref(target_ref, commit, base,
                                   f"gitlog exp promote: {name}")) is not None:
        from .refmove import blocked

        raise blocked(target_ref, refused, f"promote into {target}; nothing changed") or \
            GitlogError(f"{target} moved while promoting; nothing changed",
                        hint="run the promotion again")
    from .postcommit import after_commit

    after_commit(repo, config, commit)
    return Promotion(experiment=name, branch=branch, target=target, commit=commit,
                     run=run.get("id"), summary=summary, worktree=here)


def _no_target(repo: Repo, target: str, target_ref: str, branch: str,
               default: bool) -> GitlogError:
    """The error for a target branch with no commit: one HEAD is on (a new repository's
    unborn main) starts from the experiment by a fast-forward; any other is made by
    'git branch' (the hint was 'name an existing branch with --into', even for main)."""
    source, name = shlex.quote(branch), shlex.quote(target)
    if repo.head().branch == target_ref:
        return GitlogError(f"{target} has no commits yet: there is nothing to merge {branch} "
                           "into", hint=f"start {target} from the experiment, its runs "
                                        f"included: git merge --ff-only {source}")
    why = " (main_branch in .gitlog.yaml)" if default else ""
    return GitlogError(f"no branch {target} to promote into{why}",
                       hint=f"start it from the experiment: git branch {name} {source}; or "
                            "name an existing branch with --into")


def _merge_tree(repo: Repo, base: str, tip: str, branch: str, target: str) -> str:
    proc = run_git(["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages",
                    base, tip], repo.root, check=False)
    out = proc.stdout.decode("utf-8", "surrogateescape")
    if proc.returncode == 0:
        return out.split("\0")[0].strip()
    if proc.returncode == 1:
        conflicts = [p for p in out.split("\0")[1:] if p]
        shown = ", ".join(conflicts[:8]) + (" ..." if len(conflicts) > 8 else "")
        raise GitlogError(
            f"{branch} and {target} conflict in: {shown}; nothing changed",
            hint=f"merge by hand: git checkout {shlex.quote(target)} && git merge "
                 f"{shlex.quote(branch)}, resolve, then commit")
    err = proc.stderr.decode(errors="replace")
    if "write-tree" in err or "usage" in err:
        raise GitlogError("gitlog exp promote needs git 2.38 or newer (git merge-tree "
                          "--write-tree)",
                          hint=f"merge by hand: git checkout {shlex.quote(target)} && git "
                               f"merge --no-ff {shlex.quote(branch)}")
    raise GitCommandError(["merge-tree"], proc.returncode, err)


def _commit_tree(repo: Repo, tree: str, parents: list[str], message: str) -> str:
    from .signing import commit_signed, signing_on

    ident, fallback = repo.ident()
    if signing_on(repo):  # (commit-tree does not read commit.gpgSign)
        return commit_signed(repo, tree, parents, ident, message,
                             then="promote again (nothing changed)")
    env = None
    if fallback:
        name, email = ident[:-1].split(" <", 1)
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return repo.git(*args, input=message.encode("utf-8"), env=env).strip()

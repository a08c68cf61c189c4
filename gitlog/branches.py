"""Which branch an experiment name stands for, and which experiment branches there are.

Experiment NAME is the branch ``<prefix>NAME``. A fresh clone has only the remote-tracking
``REMOTE/<prefix>NAME``: as ``git checkout NAME`` does, the name then stands for that one
when exactly one remote has it. Every command resolves names here and lists experiments
here, so what ``gitlog ls`` shows is what the others accept. Light on purpose: it is on
``gitlog history``'s start-up path.
"""

from __future__ import annotations

from .errors import AmbiguousExperimentError, GitlogError, NameError_
from .names import ref_component_problem, revision_problem

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from pathlib import Path

    from .config import Config
    from .git import Repo


def experiment_ref(repo: Repo, config: Config, name: str) -> str | None:
    """The ref experiment ``name`` stands for, as ``git checkout NAME`` guesses a branch:
    ``refs/heads/<prefix>NAME``, else ``refs/remotes/R/<prefix>NAME`` when exactly one
    remote R has it; None when none does. ``<prefix>NAME`` reads as ``NAME`` too. Raises
    AmbiguousExperimentError when several remotes have it and there is no local branch."""
    names = [n for n in (name, name[len(config.prefix):] if name.startswith(config.prefix)
                         else "") if n and not ref_component_problem(n)]
    for candidate in names:
        if repo.ref_tip(config.branch(candidate)):
            return config.branch(candidate)
    remotes = repo.git("remote").split() if names else []
    for candidate in names:
        wanted = [f"refs/remotes/{r}/{config.prefix}{candidate}" for r in remotes]
        if not wanted:
            break
        # for-each-ref also lists refs under a pattern: keep exact matches only
        found = [ref for ref in repo.git("for-each-ref", "--format=%(refname)", *wanted)
                 .splitlines() if ref in wanted]
        if len(found) == 1:
            return found[0]
        if found:
            raise AmbiguousExperimentError(candidate, [f[len("refs/remotes/"):] for f in found],
                                           config.prefix)
    return None


def check_new_experiment(repo: Repo, config: Config, name: str) -> None:
    """Refuse ``name`` for an experiment about to get its branch when the name could not
    reach it: git reads it as an option or its own ref, or as another revision (a
    branch ``main``, a tag, a commit id), which commands try before experiment names."""
    if repo.ref_tip(config.branch(name)):
        return  # not new: it keeps its name
    try:
        remote = experiment_ref(repo, config, name)
    except AmbiguousExperimentError as err:
        remote = "refs/remotes/" + err.branches[0]
    if remote and remote.startswith("refs/heads/"):
        return  # another process made the branch a moment ago: not new either
    if remote:  # a new branch would start apart from its runs and hide them
        branch = remote[len("refs/remotes/"):]
        raise GitlogError(f"experiment {name} has its runs on a remote only ({branch}): "
                          "a new branch would start apart from them",
                          hint=f"make it local first: gitlog pull {name} (or git branch "
                               f"{config.prefix}{name} {branch})")
    problem = revision_problem(name)
    if problem is None and repo.rev_parse(name):
        problem = "git reads it as another revision (a branch, tag or commit)"
    elif problem is None and name in _branches_to_come(repo, config):
        problem = ("it names the main branch (main_branch in .gitlog.yaml, or the branch "
                   "HEAD is on), which git will read first once it has a commit")
    example = f"{name.lstrip('-@') or 'my'}-exp"
    clash = None if problem else ref_clash(repo, config.branch(name))
    if clash:
        problem = (f"branch {clash[len('refs/heads/'):]} exists, and git cannot keep a "
                   "branch inside another")
        example = name.replace("/", "-") if "/" in name else example
    if problem:
        raise NameError_("experiment", name, problem, hint=f"pick another name, e.g. '{example}'")


def _branches_to_come(repo: Repo, config: Config) -> set[str]:
    """Branch names that may have no commit yet but will: ``main_branch`` and the branch
    HEAD is on (in a repository without commits, 'main' resolves to nothing)."""
    names = {str(config["main_branch"])}
    try:
        head = (repo.git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return names
    if head.startswith("ref: refs/heads/"):
        names.add(head[len("ref: refs/heads/"):])
    return names


def check_branch_free(repo: Repo, ref: str, *, committing: bool = False) -> None:
    """Refuse to move branch ``ref`` that a work tree has checked out (another one, or
    this one since the run started): its index and files would be left behind the
    branch, as git never does. ``committing``: the run is done and kept for recover."""
    held = repo.branch_holder(ref)
    if held is None:
        return
    import shlex

    folder, rebasing = held
    branch = ref[len("refs/heads/"):]
    where = shlex.quote(str(folder))
    if rebasing:
        _refuse_rebasing(repo, branch, folder, committing)
    why = f"moving it would leave the files and index there behind {branch}"
    if committing:
        raise GitlogError(f"could not commit the run onto {branch}: it is checked out in "
                          f"{folder} ({why})",
                          hint=f"free the branch (git -C {where} checkout --detach), then "
                               "run 'gitlog recover' to commit the run")
    raise GitlogError(f"cannot log a run onto {branch} from here: it is checked out in "
                      f"another worktree, {folder} ({why})",
                      hint=f"free the branch (git -C {where} checkout --detach), or run it "
                           f"in that worktree (cd {where}), where its logs land in the "
                           "working tree")


def _refuse_rebasing(repo: Repo, branch: str, folder: Path, committing: bool) -> None:
    """A rebase ends by setting the branch to the commits it made: a run committed onto
    the branch meanwhile would be dropped. (This said 'checked out in another worktree',
    naming this one, and hinted a checkout --detach while HEAD was detached already.)"""
    import shlex

    here = folder.resolve() == repo.root.resolve()
    where = "this worktree" if here else f"the worktree {folder}"
    cont = "git rebase" if here else f"git -C {shlex.quote(str(folder))} rebase"
    then = "run 'gitlog recover' to commit the run" if committing else "log the run"
    raise GitlogError(f"{'could not commit' if committing else 'cannot log'} a run onto "
                      f"{branch}: {where} is rebasing it (the rebase ends by setting "
                      f"{branch} to its own commits, which would drop the run)",
                      hint=f"finish the rebase first ({cont} --continue, or {cont} "
                           f"--abort), then {then}")


def ref_clash(repo: Repo, ref: str) -> str | None:
    """The existing ref that keeps ``ref`` from being created, as a file cannot be a
    folder: one ``ref`` would sit inside (``refs/heads/exp/a`` for ``exp/a/b``) or one
    inside ``ref`` (``refs/heads/exp/a/b`` for ``exp/a``); None when there is none."""
    parts = ref.split("/")
    outer = ["/".join(parts[:i]) for i in range(3, len(parts))]
    # a pattern lists the refs under it too: of the outer ones, keep exact matches
    found = repo.git("for-each-ref", "--format=%(refname)", f"{ref}/", *outer).splitlines()
    return next((r for r in found if r in outer or r.startswith(f"{ref}/")), None)


def experiment_rev(repo: Repo, config: Config, rev: str) -> str | None:
    """``rev`` with the experiment name it starts with written as its ref, suffixes kept
    as git reads them (``baseline~2`` -> ``refs/heads/exp/baseline~2``); None when it
    names no experiment."""
    cut = min([i for i in (rev.find("~"), rev.find("^")) if i > 0] or [len(rev)])
    ref = experiment_ref(repo, config, rev[:cut])
    return ref + rev[cut:] if ref else None


def find_commit(repo: Repo, config: Config, rev: str) -> str | None:
    """The commit ``rev`` names as git reads it, else as an experiment name (with git's
    ``~N``/``^N`` after it); or None."""
    sha = repo.rev_parse(rev)
    if sha is None:
        ref = experiment_rev(repo, config, rev)
        sha = repo.rev_parse(ref) if ref else None
    return sha


def experiment_branches(repo: Repo, config: Config, *, contains: str | None = None) -> \
        list[tuple[str, str, str, str | None]]:
    """(branch, tip, committer date, remote) of every experiment branch, and of every
    remote-tracking one (branch ``REMOTE/exp/NAME``) whose experiment has no local branch,
    as ``experiment_ref`` resolves names (remote: None for a local branch); only those
    whose history holds commit ``contains`` when given."""
    remotes = repo.git("remote").split()
    out = repo.git("for-each-ref", "--format=%(refname)%00%(objectname)%00"
                   "%(committerdate:iso-strict)",
                   *([f"--contains={contains}"] if contains else []),
                   f"refs/heads/{config.prefix}",
                   *(f"refs/remotes/{r}/{config.prefix}" for r in remotes))
    rows: list[tuple[str, str, str, str | None]] = []
    local = set()
    for line in out.splitlines():
        ref, sha, date = line.split("\0")
        if ref.startswith("refs/heads/"):
            rows.append((ref[len("refs/heads/"):], sha, date, None))
            local.add(ref[len("refs/heads/"):])
            continue
        branch = ref[len("refs/remotes/"):]
        remote = max((r for r in remotes if branch.startswith(f"{r}/{config.prefix}")), key=len)
        rows.append((branch, sha, date, remote))
    return [row for row in rows if row[3] is None or row[0][len(row[3]) + 1:] not in local]


def deploy_branches(repo: Repo, config: Config) -> list[str]:
    """The branches of ``gitlog.monitor``'s deployment windows (``deploy/MODEL``)."""
    prefix = "refs/heads/" + str(config["deploy_prefix"])
    out = repo.git("for-each-ref", "--format=%(refname)", prefix, check=False)
    return [line[len("refs/heads/"):] for line in out.splitlines() if line]


def experiment_of(config: Config, branch: str, remote: str | None) -> str:
    """The experiment name of a branch from ``experiment_branches``."""
    return branch[len(remote) + 1 if remote else 0:][len(config.prefix):]


def no_local_branch_hint(repo: Repo, config: Config, name: str) -> str:
    """What to say about experiment ``name`` when a command needs its local branch: how
    to make it local if a remote has it, else where to list experiments."""
    try:
        ref = experiment_ref(repo, config, name)
    except AmbiguousExperimentError as err:
        ref = "refs/remotes/" + err.branches[0]
    if ref and ref.startswith("refs/remotes/"):
        branch = ref[len("refs/remotes/"):]
        return (f"it is only on a remote ({branch}): make it local with 'gitlog pull "
                f"{name}' or 'git branch {config.prefix}{name} {branch}'")
    return "list experiments with 'gitlog ls'"

"""Experiments deleted on the git remote, as ``gitlog pull`` finds them.

Pull fetches with ``--prune``: a remote-tracking ``REMOTE/exp/NAME`` whose branch the
remote no longer has goes, so ``gitlog ls`` and ``history --all`` stop listing it. The
local branch goes too, but only when that loses nothing: it is checked out in no work
tree, no run is being logged to it, and its tip is on a remote-tracking branch still
(after ``exp promote``, a push of main and a delete, main holds it). Otherwise it is
kept, and the row says why and how to drop or publish it again.
"""

from __future__ import annotations

import shlex

from .config import Config
from .git import Repo


def settle(repo: Repo, config: Config, remote: str, exp: str,
           runs_only_here: int | None) -> tuple[str, str]:
    """(action, detail) for experiment ``exp``, deleted on ``remote``: ``deleted`` (its
    local branch too, or there was none) or ``kept``. ``runs_only_here``: how many runs
    of the local branch no remote-tracking branch holds (None: there is no local
    branch), for the message."""
    ref = config.branch(exp)
    branch = f"{config.prefix}{exp}"
    tip = repo.ref_tip(ref)
    if tip is None:
        return "deleted", f"deleted on {remote}"
    name = shlex.quote(exp)
    holder = repo.worktree_on(ref)
    if holder is not None:
        return "kept", (f"deleted on {remote}; this clone keeps {branch}: it is checked out "
                        f"in {holder} (delete it there once switched away: gitlog exp rm "
                        f"{name})")
    from .journal import all_journals

    if any(j.meta().get("branch") == ref for j in all_journals(repo.gitlog_dir)):
        return "kept", (f"deleted on {remote}; this clone keeps {branch}: a run is being "
                        "logged to it (or awaits 'gitlog recover'); pull again after it")
    out = repo.git("for-each-ref", "--format=%(refname:short)%00%(symref)",
                   f"--contains={tip}", "refs/remotes/")
    # a symbolic REMOTE/HEAD is named by the branch it points at
    found = next((line.split("\0")[0] for line in out.splitlines() if line.endswith("\0")), "")
    if found and repo.delete_ref(ref, tip):
        return "deleted", (f"deleted on {remote}, and here: every run of it is on {found}; "
                           f"restore it with: git branch {branch} {tip[:12]}")
    if found:
        return "kept", f"deleted on {remote}; {branch} moved meanwhile: pull again"
    runs = f"{runs_only_here} run(s)" if runs_only_here else "commits"
    return "kept", (f"deleted on {remote}; this clone keeps {branch}: {runs} of it are on "
                    f"no remote-tracking branch (drop it: gitlog exp rm {name}; publish it "
                    f"again: gitlog push {name})")

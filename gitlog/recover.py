"""``gitlog recover``: commit the journals of runs whose process died."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Config, load
from .errors import GitlogError
from .git import Repo
from .journal import Journal, all_journals


@dataclass
class Recovered:
    run: str
    experiment: str
    action: str            # committed | written | running | cleaned | failed
    status: str | None = None
    commit: str | None = None
    detail: str | None = None
    hint: str | None = None  # the fix, when a run could not be committed


def _already_on_branch(repo: Repo, branch: str, run_id: str) -> str | None:
    if not repo.ref_tip(branch):
        return None
    found = repo.git("log", "--format=%H", "-1", "-F", f"--grep=Gitlog-Run: {run_id}",
                     branch, check=False).strip()
    return found or None


def _meta(journal: Journal) -> dict | None:
    """The journal's meta.json; None once it is removed. A damaged one (a disk error,
    an edit) is an error for its run only: the other runs are recovered all the same."""
    try:
        meta = journal.meta()
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict) or \
            not all(isinstance(meta.get(key), str) for key in ("id", "experiment", "branch")):
        raise GitlogError(f"its {journal.path / 'meta.json'} is damaged, so which experiment "
                          "and code it belongs to is not known",
                          hint=f"move {journal.path} out of {journal.path.parent} (its "
                               "series and events stay readable there)")
    return meta


def recover(repo: str | Path | Repo = ".", config: Config | None = None, *,
            dry_run: bool = False) -> list[Recovered]:
    """Commit every dead run's journal (status ``killed`` unless it recorded one)."""
    from .layout import final_status
    from .store import store_journal

    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    results = []
    for journal in all_journals(repo.gitlog_dir):
        if not journal.lock():
            try:
                meta = _meta(journal)
            except GitlogError:
                meta = {"id": journal.run_id, "experiment": ""}
            if meta is not None:
                results.append(Recovered(meta["id"], meta["experiment"], "running"))
            continue
        try:
            meta = None if journal.gone() else _meta(journal)
        except GitlogError as exc:
            journal.unlock()
            results.append(Recovered(journal.run_id, "", "failed", detail=str(exc),
                                     hint=exc.hint))
            continue
        if meta is None:  # another 'gitlog recover' stored it meanwhile
            journal.remove()  # (what its removal may have left: a new lock file)
            continue
        run_id, exp = meta["id"], meta["experiment"]
        try:
            done = journal.committed() or _already_on_branch(repo, meta["branch"], run_id)
            if done:
                if not dry_run:
                    journal.remove()
                results.append(Recovered(run_id, exp, "cleaned", commit=done))
                continue
            status = final_status(journal)
            if dry_run:
                results.append(Recovered(run_id, exp, "would commit", status))
                continue
            status, commit, path = store_journal(repo, config, journal)
            results.append(Recovered(run_id, exp, "committed" if commit else "written",
                                     status, commit or (str(path) if path else None)))
        except Exception as exc:
            results.append(Recovered(run_id, exp, "failed", detail=str(exc),
                                     hint=getattr(exc, "hint", None)))
        finally:
            journal.unlock()
    return results

"""``Run.log_artifact``: track a file or folder of a run with DVC.

The content goes into the repository's DVC cache (once per content); the run's journal
gets a record that becomes the pointer file ``<log_dir>/artifacts/NAME.dvc`` and the
``artifacts`` entry of ``run.yaml`` in the run commit. In branch mode the user's working
tree gets nothing (no ``.dvc`` file, no ``.gitignore`` line); in the workspace workflow
the pointer lands in the working tree's log folder and the path is git-ignored, as
``dvc add`` would do.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from .errors import GitlogError
from .pointers import Artifact, check_name, default_name
from .recorder import GitlogWarning, append_record


class ArtifactPathError(GitlogError):
    """A path that cannot be an artifact of this repository."""

    def __init__(self, path: str, problem: str, hint: str | None = None) -> None:
        self.path = path
        super().__init__(f"cannot log artifact {path}: {problem}", hint=hint)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_path(repo: Any, path: str | os.PathLike[str], log_dir: str) -> tuple[str, str]:
    """(path relative to the repository, '/'-separated; real absolute path) of an
    artifact, or ArtifactPathError: missing, outside the repository, through a symlink
    out of it, inside ``.git``, ``.dvc`` or the log folder."""
    given = os.fsdecode(os.fspath(path))
    absolute = os.path.abspath(given)
    root = os.path.realpath(repo.root)
    real = os.path.realpath(absolute)
    if not os.path.lexists(absolute):
        raise ArtifactPathError(given, "no such file or folder",
                                hint=f"check the path (relative paths start at {os.getcwd()})")
    if not _inside(real, root):
        if _inside(absolute, root) or _inside(absolute, str(repo.root)):
            raise ArtifactPathError(given, f"it goes through a symlink out of the repository "
                                    f"(to {real})", hint="copy the file into the repository "
                                    "and log the copy")
        raise ArtifactPathError(given, f"it is outside the repository {root}",
                                hint="save it inside the repository (e.g. models/), "
                                     "then log it")
    if not os.path.exists(real):
        raise ArtifactPathError(given, f"it is a broken symlink (to {real})")
    rel = Path(os.path.relpath(real, root)).as_posix()
    first = rel.split("/")[0]
    if rel == "." or first in (".git", ".dvc") or _inside(rel, log_dir):
        raise ArtifactPathError(given, "artifacts cannot be the repository itself, nor live "
                                f"in .git/, .dvc/ or gitlog's log folder {log_dir}/",
                                hint="save it elsewhere in the repository (e.g. models/)")
    if os.path.isdir(real):
        for folder, dirs, files in os.walk(real):
            for entry in (*dirs, *files):
                full = os.path.join(folder, entry)
                if os.path.islink(full) and not _inside(os.path.realpath(full), root):
                    raise ArtifactPathError(given, "it holds a symlink out of the repository: "
                                            f"{os.path.relpath(full, root)}",
                                            hint="replace the symlink by a copy")
    return rel, real


def _tracked_by_git(repo: Any, rel: str) -> list[str]:
    """The files git tracks at ``rel`` (a folder: inside it)."""
    return [p for p in repo.git("ls-files", "-z", "--", rel).split("\0") if p]


def _git_tracked_problem(path: str | os.PathLike[str], rel: str,
                         tracked: list[str]) -> ArtifactPathError:
    if tracked == [rel]:
        return ArtifactPathError(str(path), f"{rel} is tracked by git; an artifact's content "
                                 "goes to DVC instead", hint=f"git rm --cached {rel} (and "
                                 "commit), then log it again")
    more = f" and {len(tracked) - 1} more" if len(tracked) > 1 else ""
    return ArtifactPathError(str(path), f"folder {rel} holds files git tracks: {tracked[0]}"
                             f"{more}; an artifact's content goes to DVC instead",
                             hint=f"log the files git does not track, or hand the folder to "
                                  f"DVC: git rm -r --cached {rel} (and commit)")


def _dvc_owner(repo: Any, rel: str) -> str | None:
    """The DVC file (committed ``<path>.dvc``, or a stage in the top ``dvc.yaml``) that
    already has ``rel`` as an output: a second pointer in the run commit would make DVC
    refuse both."""
    if _tracked_by_git(repo, rel + ".dvc"):
        return rel + ".dvc"
    from .layout import yaml_load

    try:
        doc = yaml_load((Path(repo.root) / "dvc.yaml").read_text(encoding="utf-8"))
    except Exception:  # no dvc.yaml, or one DVC itself will report
        return None
    stages = doc.get("stages") if isinstance(doc, dict) else None
    for name, stage in (stages or {}).items():
        if not isinstance(stage, dict):
            continue
        wdir = str(stage.get("wdir") or ".")
        for out in stage.get("outs") or []:
            path = next(iter(out), None) if isinstance(out, dict) else out
            if not isinstance(path, str):
                continue
            full = os.path.normpath(os.path.join(wdir, path)).replace(os.sep, "/")
            if _inside(rel, full) or _inside(full, rel):
                return f"dvc.yaml (stage {name})"
    return None


def _check_overlap(journal: Any, name: str, rel: str) -> None:
    """Two artifacts of one run may not share or nest paths (DVC refuses overlapping
    outputs); logging the same name again replaces it."""
    from .pointers import latest_records

    for other in latest_records(journal.records("artifacts")).values():
        if other.name == name:
            continue
        if _inside(rel, other.path) or _inside(other.path, rel):
            raise GitlogError(f"artifact {name!r} ({rel}) overlaps artifact {other.name!r} "
                              f"({other.path}) of this run",
                              hint=f"log it under the same name (name={other.name!r}) to "
                                   "replace it, or log another path")


def log_artifact(run: Any, path: str | os.PathLike[str], name: str | None = None,
                 type: str = "model", meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Track ``path`` with DVC for ``run``; return the record (name, type, path, md5, size)."""
    from .artifacts import open_dvc
    from .describe import hash_path
    from .values import plain

    repo = run.repo
    log_dir = str(run.meta.get("log_dir") or run.config.log_dir)
    rel, real = resolve_path(repo, path, log_dir)
    name = default_name(rel, os.fsdecode(os.fspath(path))) if name is None else \
        check_name(name)
    if not isinstance(type, str) or not type.strip() or "\n" in type:
        raise GitlogError(f"artifact type must be a one-line string, got {type!r}",
                          hint="e.g. type='model' or type='data'")
    if meta is not None and not isinstance(meta, dict):
        raise GitlogError(f"artifact meta must be a dict, got {type(meta).__name__}",
                          hint="e.g. meta={'framework': 'sklearn'}")
    tracked = _tracked_by_git(repo, rel)
    if tracked:
        raise _git_tracked_problem(path, rel, tracked)
    owner = _dvc_owner(repo, rel)
    if owner:
        raise ArtifactPathError(str(path), f"{rel} is an output of {owner} already, which "
                                "the run commit holds with the code",
                                hint="DVC versions it there; describe it with log_data / "
                                     "log_model, or log another path")
    _check_overlap(run.journal, name, rel)
    with open_dvc(repo) as dvc:  # before hashing: a repository without DVC fails fast
        if dvc.ignored(real):
            raise ArtifactPathError(str(path), f"{rel} is ignored by .dvcignore: DVC could "
                                    "not restore it", hint="take its pattern out of "
                                    ".dvcignore, or log another path")
        hashed = hash_path(real, dvc.ignore)
        try:
            dvc.store(hashed)
        except OSError as exc:  # a full disk, a cache folder that is a file or read-only
            raise GitlogError(f"cannot store artifact {name!r} ({rel}) in the DVC cache "
                              f"{dvc.cache_dir}: {exc.strerror or exc}",
                              hint="free space or fix the cache folder ('dvc cache dir'), "
                                   "then log it again") from None
        finally:
            hashed.release()
    summary = hashed.summary
    artifact = Artifact(name=name, type=type, path=rel, md5=str(summary["md5"]),
                        size=summary.get("size"), nfiles=summary.get("nfiles"),
                        meta=plain(meta or {}))
    if run.mode == "workspace":
        ignore_in_git(repo, rel)
    record = {"name": name, **artifact.record()}
    append_record(run.journal, "artifacts", record)
    return record


def track_file(run: Any, path: str | os.PathLike[str], name: str,
               type: str) -> dict[str, Any] | None:
    """``log_data``/``log_model`` given a file: its descriptor (path, md5, size), tracked
    as an artifact (``artifact: NAME``) when it can be one: inside the repository, DVC set
    up, not in git. None when ``path`` is not a file."""
    from .artifacts import DvcMissingError
    from .describe import describe_data
    from .errors import NameError_

    shown = os.fsdecode(os.fspath(path))
    if not os.path.isfile(shown):
        return None
    try:
        record = log_artifact(run, shown, name=name, type=type)
    except (ArtifactPathError, DvcMissingError, NameError_):
        return describe_data(shown)  # not an artifact of this repository: described only
    except (GitlogError, OSError) as exc:
        warnings.warn(f"gitlog: {shown} was not tracked as an artifact: {exc}",
                      GitlogWarning, stacklevel=3)
        return describe_data(shown)
    return {"path": shown, "md5": record["md5"], "size": record["size"], "artifact": name}


def ignore_in_git(repo: Any, rel: str) -> None:
    """Add ``/name`` to the ``.gitignore`` beside ``rel`` unless git ignores it already."""
    from .git import run_git

    if run_git(["check-ignore", "-q", "--", rel], repo.root, check=False).returncode == 0:
        return
    from .ignores import ignore_line

    parent, _, base = rel.rpartition("/")
    gitignore = Path(repo.root) / parent / ".gitignore"
    line = ignore_line(base)
    text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if line in text.splitlines():
        return
    if text and not text.endswith("\n"):
        text += "\n"
    gitignore.write_text(text + line + "\n", encoding="utf-8")

"""Reading a run's artifacts back: ``gitlog artifacts`` and ``gitlog get``.

Nothing is checked out: the run's ``run.yaml`` is read from its commit, the content comes
from the local DVC cache, else from the DVC remote into the cache first. The output is
written under a temporary name beside its target and renamed into place, so an
interrupted ``get`` leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .artifacts import open_dvc
from .config import Config, load
from .errors import GitlogError
from .git import Repo
from .layout import read_run
from .pointers import Artifact
from .query import no_run_error, resolve_run


def run_artifacts(repo: Repo, config: Config, rev: str | None,
                  ) -> tuple[str, str, list[Artifact], str | None]:
    """(commit, run id, artifacts, experiment) of the run ``rev`` names."""
    commit = resolve_run(repo, config, rev)
    with repo.cat_file() as cat:
        record = read_run(cat, commit, config.log_dir, events=False)
    if record is None:
        raise no_run_error(repo, config, rev, commit)
    experiment = record.run.get("experiment")
    return (commit, str(record.run.get("id") or commit[:12]), record.artifacts,
            str(experiment) if experiment else None)


def list_artifacts(rev: str | None = None, repo: str | Path | Repo = ".",
                   config: Config | None = None) -> tuple[str, str, list[dict[str, Any]]]:
    """(commit, run id, rows) for ``gitlog artifacts``: each artifact with ``cached``
    telling whether its content is in the local DVC cache (None without DVC)."""
    from .artifacts import DvcMissingError

    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    commit, run_id, arts, _ = run_artifacts(repo, config, rev)
    cached: dict[str, bool | None] = {a.md5: None for a in arts}
    if arts:
        try:
            with open_dvc(repo) as dvc:
                cached = {a.md5: dvc.has(a.md5) for a in arts}
        except DvcMissingError:
            pass
    rows = [{"name": a.name, "type": a.type, "path": a.path, "size": a.size,
             "nfiles": a.nfiles, "md5": a.md5, "cached": cached[a.md5], "meta": a.meta}
            for a in arts]
    return commit, run_id, rows


def find(arts: list[Artifact], name: str, run_id: str) -> Artifact:
    """Artifact ``name`` of a run; 'ö' typed as one character or two (a macOS file name
    pasted) is the same letter."""
    from unicodedata import normalize

    for art in arts:
        if art.name == name:
            return art
    for art in arts:
        if normalize("NFC", art.name) == normalize("NFC", name):
            return art
    names = ", ".join(a.name for a in arts)
    raise GitlogError(f"run {run_id} has no artifact {name!r}",
                      hint=f"its artifacts: {names}" if names else "this run logged no "
                      "artifacts (Run.log_artifact)")


def ensure_cached(dvc: Any, art: Artifact, run_id: str, remote: str | None,
                  progress: bool = False, experiment: str | None = None) -> None:
    """Bring ``art`` into the local cache from the DVC remote unless it is there."""
    from .artifacts import RemoteError

    if dvc.has(art.md5):
        return
    where = f"artifact {art.name!r} of run {run_id} is not in the local DVC cache " \
        f"({dvc.cache_dir})"
    try:
        absent = dvc.fetch([art.md5], remote, progress)
    except RemoteError as exc:
        raise GitlogError(f"{where}; {exc.message}", hint=exc.hint) from None
    if absent:
        raise GitlogError(f"{where}, and DVC remote {dvc.remote_name(remote)!r} does not have "
                          f"it ({absent[art.md5]})", hint="push it from the machine that "
                          f"logged the run: gitlog push {experiment or 'EXPERIMENT'}")


def get_artifact(rev: str, name: str, output: str | Path | None = None,
                 repo: str | Path | Repo = ".", config: Config | None = None, *,
                 remote: str | None = None, force: bool = False,
                 progress: bool = False) -> Path:
    """Write artifact ``name`` of run ``rev`` to ``output`` (default: its file name in the
    current folder); return the path written. An existing path is kept unless ``force``."""
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = config or load(repo.root)
    _, run_id, arts, experiment = run_artifacts(repo, config, rev)
    art = find(arts, name, run_id)
    base = art.path.rsplit("/", 1)[-1]
    dest = Path(output) if output is not None else Path(base)
    folder = output is not None and str(output).endswith(("/", os.sep))
    if folder or dest.is_dir() and (output is not None or not art.is_dir):
        dest = dest / base  # -o FOLDER receives it inside, as with cp and 'dvc get'
    dest = Path(os.path.abspath(dest))
    if os.path.lexists(dest) and not force:
        raise GitlogError(f"{dest} already exists", hint="pass --force to replace it, or "
                          "-o another path")
    # The target's folder and a staging folder in it are made before anything is
    # downloaded: a -o that cannot be written fails at once, not after a long download.
    with open_dvc(repo) as dvc, contextlib.ExitStack() as stack:
        try:
            staging = stack.enter_context(staging_for(dest))
        except OSError as exc:
            raise _unwritable(dest, exc) from None
        ensure_cached(dvc, art, run_id, remote, progress, experiment)
        try:
            materialize(dvc.files(art.md5), dest, staging)
        except OSError as exc:
            raise _unwritable(dest, exc) from None
    return dest


def _unwritable(dest: Path, exc: OSError) -> GitlogError:
    blocker = next((p for p in reversed(dest.parents) if p.exists() and not p.is_dir()), None)
    # The staging folder's name means nothing to the user: name the folder it was in.
    where = exc.filename and str(exc.filename) != str(dest) and \
        ".gitlog-" not in os.path.basename(str(exc.filename)) and str(exc.filename)
    problem = f"{blocker} is not a folder" if blocker else \
        f"{exc.strerror or exc}" + (f" ({where})" if where else "")
    return GitlogError(f"cannot write {dest}: {problem}",
                       hint="pass -o a path in a folder you can write to")


@contextlib.contextmanager
def staging_for(dest: Path) -> Iterator[Path]:
    """A temporary folder beside ``dest``, removed afterwards; the folders made for
    ``dest`` are removed too when nothing ended up at ``dest``."""
    made = [p for p in dest.parents if not os.path.lexists(p)]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.gitlog-", dir=dest.parent))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        if not os.path.lexists(dest):
            for folder in made:  # deepest first; one holding something else stays
                with contextlib.suppress(OSError):
                    os.rmdir(folder)


def materialize(files: list[tuple[tuple[str, ...], str]], dest: Path,
                staging: Path | None = None) -> None:
    """Copy cached files to ``dest`` (a file when ``files`` is one file at ``()``), through
    a temporary sibling (``staging``, else one made here) and a rename; whatever was at
    ``dest`` is replaced."""
    if staging is None:
        with staging_for(dest) as made:
            return materialize(files, dest, made)
    if len(files) == 1 and files[0][0] == ():
        new = staging / "file"
        shutil.copyfile(files[0][1], new)
    else:
        new = staging / "dir"
        new.mkdir()
        for parts, source in files:
            target = new.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    if dest.is_dir() and not dest.is_symlink():
        old = staging / "old"
        os.replace(dest, old)
    elif os.path.lexists(dest) and new.is_dir():
        os.unlink(dest)
    os.replace(new, dest)

"""Writing a finished run into the working tree (the workspace workflow).

The log folder is the user's too: notes, a README, an untracked checkpoint may live
there. A new run replaces the files a run writes (``runfiles.is_run_file``), those of the
previous run it does not write again included (a series it no longer logs must not pass
for this run's), and leaves everything else as it was. Each file is written beside its
place and renamed over it, so a reader sees the old file or the new one, never half.

The folder as a whole cannot change in one step, so ``run.yaml`` and ``metrics.json``
(what makes a folder a run, for the queries and the pre-commit hook) are removed first
and written last: a writer killed half-way leaves a folder that holds no run (the hook
refuses to commit it; ``gitlog recover`` writes the run whole), never the previous run's
``run.yaml`` over a mix of both runs' files. Temporary files a killed writer left are
removed by the next write.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from .errors import GitlogError
from .runfiles import is_run_file

# What marks a folder as a run: removed first and written last, in this order
MARKERS = ("metrics.json", "run.yaml")
_TEMP = re.compile(r"\..+\.gitlog-[0-9a-f]{8}")  # replace_file's temporary names


def write_workspace(root: Path, log_dir: str, files: dict[str, bytes]) -> Path:
    """Put the run's ``files`` into ``<root>/<log_dir>``; return that folder."""
    target = root / log_dir
    if target.exists() and not target.is_dir():
        raise GitlogError(f"{target} is a file, not the log folder the run writes into",
                          hint="move it away, then run 'gitlog recover' to write the run")
    target.mkdir(parents=True, exist_ok=True)
    _remove_temps(target)
    for rel in reversed(MARKERS):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target / rel)
    for rel, data in files.items():
        if rel not in MARKERS:
            replace_file(target / rel, data)
    stale = [rel for rel in _run_files(target) if rel not in files]
    for rel in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target / rel)
    for folder in sorted({str(Path(rel).parent) for rel in stale}, key=len, reverse=True):
        _remove_empty(target, folder)
    for rel in MARKERS:
        if rel in files:
            replace_file(target / rel, files[rel])
    return target


def _remove_temps(target: Path) -> None:
    """Remove the temporary files of a write that was killed before its rename."""
    for folder, _dirs, names in os.walk(target):
        for name in names:
            if _TEMP.fullmatch(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.gitlog-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode as git gives
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _run_files(target: Path) -> list[str]:
    """The files in ``target`` a run writes ('/'-separated, relative), symlinks not
    followed."""
    found = []
    for folder, dirs, names in os.walk(target):
        rel = Path(folder).relative_to(target).as_posix()
        prefix = "" if rel == "." else rel + "/"
        found += [prefix + n for n in names if is_run_file(prefix + n)]
        found += [prefix + d for d in dirs
                  if os.path.islink(os.path.join(folder, d)) and is_run_file(prefix + d)]
    return found


def _remove_empty(target: Path, folder: str) -> None:
    """Remove ``folder`` (inside ``target``) and its parents up to ``target`` while they
    are empty: a run's series folders, emptied of stale series."""
    path = target / folder
    while path != target and target in path.parents:
        try:
            path.rmdir()
        except OSError:
            return
        path = path.parent

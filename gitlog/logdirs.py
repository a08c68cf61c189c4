"""Runs logged under another log directory. Changing ``log_dir`` in ``.gitlog.yaml`` hides
the runs logged before the change (every query reads the new folder only), so the errors
that find no run say where the runs are and how to see them. Read only on those errors:
a query that finds runs never pays for it.
"""

from __future__ import annotations

from .config import CONFIG_FILE, DEFAULTS, Config
from .git import Repo


def earlier_log_dir(repo: Repo, config: Config, commit: str | None = None) -> str | None:
    """A log directory other than ``config.log_dir`` holding runs: in ``commit`` when
    given, else in the newest commit of any branch that logged one there. The folders
    tried are the default and those ``.gitlog.yaml`` ever named."""
    current = config.log_dir.strip("/")
    folders = [d for d in dict.fromkeys([*_named_log_dirs(repo), DEFAULTS["log_dir"]])
               if d != current]
    paths = [f"{d}/{name}" for d in folders for name in ("run.yaml", "metrics.json")]
    if not paths:
        return None
    if commit is not None:
        ask = "".join(f"{commit}:{p}\n" for p in paths).encode()
        out = repo.git("cat-file", "--batch-check=%(objecttype)", input=ask, check=False)
        found = [p for p, line in zip(paths, out.split("\n"), strict=False) if line == "blob"]
    else:
        out = repo.git("log", "--all", "-1", "--format=", "--name-only", "--no-renames", "--",
                       *(f":(literal){p}" for p in paths), check=False)
        found = [line for line in out.split("\n") if line in paths]
    return found[0].rsplit("/", 1)[0] if found else None


def _named_log_dirs(repo: Repo) -> list[str]:
    """Every ``log_dir`` the committed versions of ``.gitlog.yaml`` set, newest first."""
    # git's own patch, whatever the user set: no colours (color.ui=always), no diff tool
    out = repo.git("log", "--all", "--format=", "-p", "--unified=0", "--no-color",
                   "--no-ext-diff", "--no-textconv", "-G^log_dir:", "--",
                   f":(literal){CONFIG_FILE}", check=False)
    folders = []
    for line in out.split("\n"):
        if line[:1] in "+-" and line[1:].startswith("log_dir:"):
            value = line[len("+log_dir:"):].split(" #", 1)[0].strip().strip("'\"")
            if value:
                folders.append(value.strip("/"))
    return folders


def moved_note(repo: Repo, config: Config, old: str | None) -> list[str]:
    """The note for a query that found runs just after ``log_dir`` changed from ``old``
    (the index says so, once): the runs logged under ``old`` are not shown."""
    if not old or old.strip("/") == config.log_dir.strip("/"):
        return []
    paths = [f":(literal){old.strip('/')}/{name}" for name in ("run.yaml", "metrics.json")]
    if not repo.git("log", "--all", "-1", "--format=%H", "--", *paths, check=False).strip():
        return []
    return [f"log_dir is now {config.log_dir} (was {old}): the runs logged under {old} are "
            f"not shown; to see them, set log_dir: {old} in {CONFIG_FILE}"]


def moved_hint(repo: Repo, config: Config, hint: str, commit: str | None = None) -> str:
    """``hint``, or, when runs were logged under another log directory (see
    ``earlier_log_dir``), how to see them."""
    earlier = earlier_log_dir(repo, config, commit)
    if earlier is None:
        return hint
    return (f"runs were logged under {earlier}, not under log_dir {config.log_dir}: to "
            f"query them, set log_dir: {earlier} in {CONFIG_FILE}")

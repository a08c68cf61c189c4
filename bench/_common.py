"""Helpers shared by the benchmark scripts (each bench_*.py stays runnable on its own).

Every benchmark pins git's identity and config so that a user's global settings (commit
signing, hooks, fsmonitor) cannot change the figures, works in a temporary folder that is
removed at the end, and prints one markdown section.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path


def pin_environment(home: Path) -> None:
    """Fixed identity, no system/global git config, DVC analytics off, for this process."""
    empty = home / ".gitconfig-empty"
    empty.write_text("")
    os.environ.update({
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(empty),
        "GIT_AUTHOR_NAME": "Bench Runner",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench Runner",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "DVC_NO_ANALYTICS": "1",
    })
    for key in [k for k in os.environ if k.startswith("GITLOG_")]:
        del os.environ[key]
    compile_gitlog()


def compile_gitlog() -> None:
    """Write gitlog's bytecode caches, as installing a wheel does.

    Under PYTHONDONTWRITEBYTECODE an editable checkout would compile every gitlog module
    in every new process, and the start-up and commit figures would time the compiler
    (the peers' packages in site-packages were compiled when pip installed them).
    """
    import compileall
    import importlib.util

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    spec = importlib.util.find_spec("gitlog")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def make_repo(path: Path, files: int = 1, per_folder: int = 50) -> Path:
    """A repository on main with ``files`` tracked files (``train.py`` and modules)."""
    path.mkdir(parents=True)
    git(path, "-c", "init.defaultBranch=main", "init", "-q")
    for i in range(files - 1):
        folder = path / "src" / f"pkg{i // per_folder:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i:04d}.py").write_text(
            f'"""Module {i}."""\n\n' + "".join(f"VALUE_{j} = {i * j}\n" for j in range(20)))
    (path / "train.py").write_text("print('train')\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "code")
    return path


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def fmt_time(seconds: float) -> str:
    """A duration with a unit that keeps three significant digits readable."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}x"
    return f"{value:.2f}x"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def verdict(met: bool, text: str) -> str:
    return f"**Target:** {text}: **{'met' if met else 'missed'}**."

"""``Run.log_artifact`` of a 200 MB file vs ``dvc add`` of the same file; peak memory of
``log_artifact`` on a 1 GB file.

    python bench/bench_artifacts.py [--quick]

Both tools hash the file (md5, DVC 3) and copy it into the repository's DVC cache. Before
each timed operation the file gets new leading bytes (so neither finds its hash in a cache
or state database) and the cache is emptied, so every run does the full work; the tools
take turns so machine load hits them alike. Everything is generated under a temporary
folder and removed at the end.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

QUICK = "--quick" in sys.argv
RUNS = 3 if QUICK else 5
MB = 1 << 20
SIZE_MB = 200
BIG_MB = 256 if QUICK else 1024
MEMORY_TARGET_MB = 64

LOG_ONE = """\
import sys, time, gitlog
run = gitlog.start("bench", repo=sys.argv[1])
t0 = time.perf_counter()
run.log_artifact(sys.argv[2])
print(time.perf_counter() - t0)
run.finish()
"""
DVC_ADD = """\
import sys, time
from dvc.repo import Repo
t0 = time.perf_counter()
with Repo(sys.argv[1]) as repo:
    repo.add(sys.argv[2])
print(time.perf_counter() - t0)
"""
BASELINE = """\
import sys, gitlog
run = gitlog.start("bench", repo=sys.argv[1])
from dvc.repo import Repo
with Repo(sys.argv[1]):
    pass
run.finish()
"""


def pin_environment(home: Path) -> None:
    empty = home / ".gitconfig-empty"
    empty.write_text("")
    os.environ.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
                       "GIT_CONFIG_GLOBAL": str(empty), "GIT_AUTHOR_NAME": "Bench Runner",
                       "GIT_AUTHOR_EMAIL": "bench@example.com",
                       "GIT_COMMITTER_NAME": "Bench Runner",
                       "GIT_COMMITTER_EMAIL": "bench@example.com", "DVC_NO_ANALYTICS": "1"})
    for key in [k for k in os.environ if k.startswith("GITLOG_")]:
        del os.environ[key]


def sh(*cmd: str, cwd: Path) -> str:
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def make_project(path: Path) -> Path:
    path.mkdir()
    sh("git", "-c", "init.defaultBranch=main", "init", "-q", cwd=path)
    (path / "train.py").write_text("print('train')\n")
    sh(sys.executable, "-m", "gitlog", "init", cwd=path)
    sh("git", "add", "-A", cwd=path)
    sh("git", "commit", "-q", "-m", "init", cwd=path)
    (path / "models").mkdir()
    return path


def write_file(path: Path, size_mb: int) -> None:
    """``size_mb`` MiB: one random MiB repeated (hashing and copying do not care)."""
    block = os.urandom(MB)
    with path.open("wb") as fh:
        for _ in range(size_mb):
            fh.write(block)


def fresh_content(path: Path) -> None:
    """New leading bytes: a new md5, a new mtime, nothing any cache already knows."""
    with path.open("r+b") as fh:
        fh.write(os.urandom(64))


def empty_cache(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    for pointer in (repo / "models").glob("*.dvc"):
        pointer.unlink()


def timed_process(script: str, repo: Path, target: Path) -> tuple[float, float]:
    """(wall seconds of the whole process, seconds the operation itself reported)."""
    t0 = perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, str(repo), str(target)], cwd=repo,
                          capture_output=True, text=True)
    wall = perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-800:])
    return wall, float(proc.stdout.split()[-1])


def peak_mb(script: str, repo: Path, target: Path) -> float:
    """Peak resident memory (MiB) of ``script`` run in a fresh child process."""
    code = ("import resource, subprocess, sys\n"
            "subprocess.run([sys.executable, '-c', sys.argv[1], *sys.argv[2:]], check=True,\n"
            "               stdout=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = sh(sys.executable, "-c", code, script, str(repo), str(target), cwd=repo)
    return int(out.split()[-1]) / 1024


def fmt(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gitlog-bench-artifacts-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        pin_environment(base / "home")
        repo = make_project(base / "project")
        target = repo / "models" / "model.bin"
        write_file(target, SIZE_MB)
        results: dict[str, list[tuple[float, float]]] = {"dvc": [], "gitlog": []}
        for _ in range(RUNS):
            for name, script in (("dvc", DVC_ADD), ("gitlog", LOG_ONE)):
                fresh_content(target)
                empty_cache(repo)
                results[name].append(timed_process(script, repo, target))
        empty_cache(repo)
        target.unlink()

        big = repo / "models" / "big.bin"
        write_file(big, BIG_MB)
        fresh_content(big)
        base_peak = peak_mb(BASELINE, repo, big)
        log_peak = peak_mb(LOG_ONE, repo, big)
        empty_cache(repo)
        fresh_content(big)
        dvc_peak = peak_mb(DVC_ADD, repo, big)
        big.unlink()
        empty_cache(repo)

    med = {name: (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
           for name, rows in results.items()}
    dvc_wall, dvc_op = med["dvc"]
    gl_wall, gl_op = med["gitlog"]
    ratio_op, ratio_wall = gl_op / dvc_op, gl_wall / dvc_wall
    extra = log_peak - base_peak
    rows = [
        ["`dvc add` (DVC's Python API, `Repo.add`)", fmt(dvc_op), "1.00x", fmt(dvc_wall),
         "1.00x"],
        ["`Run.log_artifact` (gitlog)", fmt(gl_op), f"{ratio_op:.2f}x", fmt(gl_wall),
         f"{ratio_wall:.2f}x"],
    ]
    mem_rows = [
        [f"`Run.log_artifact` of {BIG_MB} MiB", f"{log_peak:.0f} MiB", f"{extra:+.0f} MiB"],
        [f"`dvc add` of {BIG_MB} MiB", f"{dvc_peak:.0f} MiB", f"{dvc_peak - base_peak:+.0f} MiB"],
        ["the same process without the artifact (imports, a run, DVC opened)",
         f"{base_peak:.0f} MiB", "+0 MiB"],
    ]
    met = ratio_op <= 1.2 and extra <= MEMORY_TARGET_MB
    print("\n".join([
        "### Artifacts: `log_artifact` vs `dvc add`",
        "",
        f"A {SIZE_MB} MiB file hashed (md5, DVC 3) and copied into the repository's DVC "
        f"cache, median of {RUNS} runs each, the tools taking turns, every run from an empty "
        "cache with new file content. *operation* is the call itself; *process* is the "
        "whole fresh process (interpreter, imports, for gitlog also `start()` and the run "
        "commit at `finish()`).",
        "",
        "| operation | operation median | vs dvc add | process median | vs dvc add |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        f"Peak resident memory of a fresh process tracking a {BIG_MB} MiB file (it is "
        "streamed in 1 MiB chunks, never read whole):",
        "",
        "| process | peak memory | over the baseline |",
        "|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in mem_rows),
        "",
        f"**Target:** `log_artifact` within 1.2x of `dvc add` ({ratio_op:.2f}x) and the "
        f"{BIG_MB} MiB artifact adding at most {MEMORY_TARGET_MB} MiB of memory "
        f"({extra:+.0f} MiB): **{'met' if met else 'missed'}**.",
    ]))


if __name__ == "__main__":
    main()

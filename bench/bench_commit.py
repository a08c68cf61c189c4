"""Committing a run of 100,000 points: gitlog ``run.finish()`` vs ``git add && git commit``.

    python bench/bench_commit.py [--quick]

A repository of 1,000 tracked files. Each repeat starts a fresh Python process that logs
two runs of 2 metrics x 50,000 steps and times their final flush and ``finish()``; the
same log files are then written into a clone's working tree and committed with plain git.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_ratio, fmt_time, git, make_repo, median, pin_environment, table, verdict

QUICK = "--quick" in sys.argv
FILES = 1_000
STEPS = 5_000 if QUICK else 50_000     # x 2 metrics = 100,000 points
REPEATS = 2 if QUICK else 7
RUNS_PER_PROCESS = 2                   # the first pays gitlog's lazy imports


def worker(repo: str, steps: int) -> None:
    """Log RUNS_PER_PROCESS runs; print [{flush, finish, commit}, ...] as JSON."""
    import gitlog

    out = []
    for _ in range(RUNS_PER_PROCESS):
        run = gitlog.start("bench-commit", repo=repo, flush_interval=3600)
        for step in range(steps):
            run.log_metric("loss", 1.0 / (step + 1), step)
            run.log_metric("accuracy", step / steps, step)
        t0 = perf_counter()
        run.flush()
        flush = perf_counter() - t0
        t0 = perf_counter()
        commit = run.finish()
        out.append({"flush": flush, "finish": perf_counter() - t0, "commit": commit})
    print(json.dumps(out))


def copy_run_files(source: Path, commit: str, target: Path) -> list[str]:
    """Write the log files of ``commit`` (log folder and dvc.yaml) into ``target``."""
    shutil.rmtree(target / ".gitlog", ignore_errors=True)
    listing = git(source, "ls-tree", "-r", "-z", commit, "--", ".gitlog", "dvc.yaml")
    paths = []
    for item in filter(None, listing.split("\0")):
        meta, path = item.split("\t", 1)
        blob = subprocess.run(["git", "cat-file", "blob", meta.split()[2]], cwd=source,
                              capture_output=True, check=True).stdout
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(blob)
        paths.append(path)
    return paths


def time_plain_git(repo: Path, paths: list[str], message: str) -> float:
    t0 = perf_counter()
    subprocess.run(["git", "add", "--", *paths], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, check=True)
    return perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gitlog-bench-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        pin_environment(root / "home")
        repo = make_repo(root / "gitlog", files=FILES)
        plain = root / "plain"
        git(root, "clone", "-q", str(repo), str(plain))
        tracked = len(git(repo, "ls-files").splitlines())
        cold, warm, cold_total, plain_times, sizes = [], [], [], [], []
        for _ in range(REPEATS):
            proc = subprocess.run([sys.executable, __file__, "--worker", str(repo), str(STEPS)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"worker failed:\n{proc.stderr}")
            runs = json.loads(proc.stdout.strip().splitlines()[-1])
            cold.append(runs[0]["finish"])
            cold_total.append(runs[0]["flush"] + runs[0]["finish"])
            warm.extend(r["finish"] for r in runs[1:])
            for run in runs:
                paths = copy_run_files(repo, run["commit"], plain)
                sizes.append(sum((plain / p).stat().st_size for p in paths))
                message = git(repo, "log", "-1", "--format=%B", run["commit"])
                plain_times.append(time_plain_git(plain, paths, message))
    print(report(tracked, median(cold), median(warm), median(cold_total), median(plain_times),
                 median(sizes), len(plain_times)))


def report(tracked: int, cold: float, warm: float, cold_total: float, plain: float,
           size: float, plain_n: int) -> str:
    rows = [
        [("**gitlog** `run.finish()`, first run in a fresh process, after the points were "
          "logged and flushed"), REPEATS, fmt_time(cold), fmt_ratio(cold / plain)],
        [("gitlog `run.finish()`, later run in the same process (imports done), after "
          "the flush"), REPEATS * (RUNS_PER_PROCESS - 1), fmt_time(warm),
         fmt_ratio(warm / plain)],
        [(f"gitlog final `run.flush()` + `run.finish()`, first run, all {2 * STEPS:,} "
          "points still unflushed"), REPEATS, fmt_time(cold_total),
         fmt_ratio(cold_total / plain)],
        ["`git add .gitlog dvc.yaml && git commit` of the same files", plain_n,
         fmt_time(plain), "1.00x"],
    ]
    intro = (f"A repository of {tracked:,} tracked files; a run of 2 metrics x {STEPS:,} "
             f"steps ({size / 1e6:.1f} MB of log files). gitlog commits it to `exp/NAME` "
             "with in-process objects and a compare-and-swap ref update (the code snapshot "
             "was taken at `start()`, outside the timing); plain git adds the same files, "
             "written into a clone's working tree, and commits them (two processes). In a "
             "real run the recorder has flushed all but the last 2 s of points before "
             "`finish()`; the third row is the worst case, where nothing was flushed. "
             "Medians.")
    return "\n".join([
        f"### Committing a run of {2 * STEPS:,} points",
        "",
        intro,
        "",
        table(["what is timed", "samples", "median", "vs plain git"], rows),
        "",
        verdict(cold <= plain, "committing a run is no slower than plain git "
                f"(`finish()` after the flush, first run in a process: "
                f"{fmt_ratio(cold / plain)})"),
    ])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()

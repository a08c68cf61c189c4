"""Logging overhead per metric point: gitlog vs DVCLive vs MLflow vs appending to a list.

    python bench/bench_logging.py [--quick]

Prints one markdown section. Every figure is a median over repeats; each repeat's figure
is the wall time of a loop divided by the points it logged.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import tempfile
import warnings
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_ratio, fmt_time, git, make_repo, median, pin_environment, table, verdict

QUICK = "--quick" in sys.argv
STEPS = 10_000 if QUICK else 100_000          # x 2 metrics
REPEATS = 3 if QUICK else 7
LONG_END = 20_100 if QUICK else 1_000_100     # the long run ends just past step 1,000,000
LONG_REPEATS = 1 if QUICK else 3
BLOCK = 5                                     # steps timed together in the long run
WINDOW = 200                                  # steps in each window of the long run
DVCLIVE_AT = (100, 400) if QUICK else (1_000, 4_000)
DVCLIVE_WINDOW = 20 if QUICK else 100
PEER_REPEATS = 1 if QUICK else 3
MLFLOW_POINTS = 100 if QUICK else 1_000
FLAT_TOLERANCE = 1.25
# The default 2 s interval would barely fire during a loop this fast; flush often so the
# flusher's work (and its GIL time) is part of the long run.
LONG_FLUSH = 0.25


def series(steps: int) -> list[tuple[int, float, float]]:
    rng = random.Random(0)
    return [(step, rng.random(), rng.random()) for step in range(steps)]


def time_floor(data: list[tuple[int, float, float]]) -> float:
    points: list[tuple[str, int, float]] = []
    t0 = perf_counter()
    for step, loss, acc in data:
        points.append(("loss", step, loss))
        points.append(("acc", step, acc))
    return (perf_counter() - t0) / (2 * len(data))


def time_gitlog(repo: Path, data: list[tuple[int, float, float]]) -> tuple[float, float]:
    """(log_metric per point, flush per point); the flusher stays idle during the loop."""
    import gitlog

    run = gitlog.start("bench-logging", repo=repo, flush_interval=3600)
    t0 = perf_counter()
    for step, loss, acc in data:
        run.log_metric("loss", loss, step)
        run.log_metric("acc", acc, step)
    hot = (perf_counter() - t0) / (2 * len(data))
    t0 = perf_counter()
    run.flush()
    flush = (perf_counter() - t0) / (2 * len(data))
    run.finish()
    return hot, flush


def time_long_run(repo: Path) -> tuple[float, float, float]:
    """One run to just past step 1,000,000, the background flusher at work throughout.

    Returns the per-point cost (median of blocks of BLOCK steps) in the window around
    step 100 and around step 1,000,000, and the mean per point over the whole run's wall
    time (which includes the time the background flusher holds the GIL).
    """
    import gitlog

    rng = random.Random(1)
    values = [rng.random() for _ in range(1024)]
    run = gitlog.start("bench-long", repo=repo, flush_interval=LONG_FLUSH)
    blocks = []
    started = perf_counter()
    for first in range(0, LONG_END, BLOCK):
        t0 = perf_counter()
        for step in range(first, first + BLOCK):
            run.log_metric("loss", values[step & 1023], step)
            run.log_metric("acc", values[(step + 7) & 1023], step)
        blocks.append(perf_counter() - t0)
    total = perf_counter() - started
    run.finish()
    late_center = LONG_END - 100

    def window(center: int) -> float:
        lo = max(0, center - WINDOW // 2) // BLOCK
        return median(blocks[lo:lo + WINDOW // BLOCK]) / (2 * BLOCK)

    return window(100), window(late_center), total / (2 * LONG_END)


def peer_repo(root: Path, name: str) -> Path:
    """A git + DVC repository, as a gitlog user would have."""
    path = make_repo(root / name)
    import subprocess

    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=path, check=True,
                   capture_output=True)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "dvc init")
    return path


def time_dvclive(root: Path, repeat: int) -> dict[int, float]:
    """Per point (mean over a window of steps) at each step of DVCLIVE_AT, one run."""
    from dvclive import Live

    path = peer_repo(root, f"dvclive-{repeat}")
    os.chdir(path)
    last = max(DVCLIVE_AT) + DVCLIVE_WINDOW // 2
    data = series(last)
    times = []
    live = Live("dvclive")
    for _, loss, acc in data:
        t0 = perf_counter()
        live.log_metric("loss", loss)
        live.log_metric("acc", acc)
        live.next_step()
        times.append(perf_counter() - t0)
    live.end()
    out = {}
    for at in DVCLIVE_AT:
        lo = at - DVCLIVE_WINDOW // 2
        out[at] = sum(times[lo:lo + DVCLIVE_WINDOW]) / (2 * DVCLIVE_WINDOW)
    return out


def time_mlflow(root: Path) -> list[float]:
    import mlflow

    path = root / "mlflow"
    path.mkdir()
    os.chdir(path)
    mlflow.set_tracking_uri(f"sqlite:///{path / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    data = series(MLFLOW_POINTS // 2)
    out = []
    for _ in range(PEER_REPEATS):
        with mlflow.start_run():
            t0 = perf_counter()
            for step, loss, acc in data:
                mlflow.log_metric("loss", loss, step=step)
                mlflow.log_metric("acc", acc, step=step)
            out.append((perf_counter() - t0) / (2 * len(data)))
    return out


def main() -> None:
    warnings.simplefilter("ignore")
    for name in ("dvclive", "mlflow", "alembic", "dvc", "scmrepo"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="gitlog-bench-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        pin_environment(root / "home")
        repo = make_repo(root / "gitlog")
        data = series(STEPS)
        time_gitlog(repo, data[:1000])  # warm-up: imports, first commit
        floor, hot, flush = [], [], []
        for _ in range(REPEATS):  # interleaved, so machine load hits both alike
            floor.append(time_floor(data))
            h, f = time_gitlog(repo, data)
            hot.append(h)
            flush.append(f)
        early, late, whole = [], [], []
        for _ in range(LONG_REPEATS):
            at_start, at_end, mean = time_long_run(repo)
            early.append(at_start)
            late.append(at_end)
            whole.append(mean)
        dv = [time_dvclive(root, r) for r in range(PEER_REPEATS)]
        ml = time_mlflow(root)
        os.chdir(cwd)

    m_floor, m_hot, m_flush = median(floor), median(hot), median(flush)
    m_total = median(h + f for h, f in zip(hot, flush, strict=True))
    # Each repeat timed the floor and gitlog back to back: the ratio within a repeat
    # cancels most of the machine's changing load.
    hot_ratio = median(h / f for h, f in zip(hot, floor, strict=True))
    m_early, m_late, m_whole = median(early), median(late), median(whole)
    m_dv = {at: median(r[at] for r in dv) for at in DVCLIVE_AT}
    m_ml = median(ml)
    print(report(m_floor, m_hot, m_flush, m_total, m_early, m_late, m_whole, m_dv, m_ml,
                 hot_ratio))


def report(floor: float, hot: float, flush: float, total: float, early: float, late: float,
           whole: float, dv: dict[int, float], ml: float, hot_ratio: float) -> str:
    points = f"{2 * STEPS:,}"
    n_dv = f"{2 * DVCLIVE_WINDOW} x {PEER_REPEATS}"

    def peer(cost: float) -> list[str]:
        return [fmt_ratio(cost / hot), fmt_ratio(cost / total)]

    rows = [
        ["Python list (the floor)", "`points.append((name, step, value))`", points,
         fmt_time(floor), "1.00x", "", ""],
        ["**gitlog**", "`run.log_metric(name, value, step)`", points, fmt_time(hot),
         fmt_ratio(hot_ratio), "", ""],
        ["gitlog background flush", ("`run.flush()` of those points: TSV formatting and "
                                     "journal append, done by the recorder thread every "
                                     "2 s"), points, fmt_time(flush),
         fmt_ratio(flush / floor), "", ""],
        ["gitlog total", "log_metric + flush", points, fmt_time(total),
         fmt_ratio(total / floor), "", ""],
    ]
    for at in DVCLIVE_AT:
        first = at - DVCLIVE_WINDOW // 2
        rows.append([f"DVCLive at step {at:,}",
                     (f"`live.log_metric` x 2 + `live.next_step()`, steps {first:,}-"
                      f"{first + DVCLIVE_WINDOW - 1:,}"), n_dv,
                     fmt_time(dv[at]), fmt_ratio(dv[at] / floor), *peer(dv[at])])
    rows.append(["MLflow", "`mlflow.log_metric(name, value, step=)`, SQLite backend",
                 f"{MLFLOW_POINTS:,} x {PEER_REPEATS}", fmt_time(ml), fmt_ratio(ml / floor),
                 *peer(ml)])
    late_at = LONG_END - 100
    late_lo = late_at - WINDOW // 2
    flat_rows = [
        [f"steps 0-{WINDOW - 1} (around step 100)", fmt_time(early)],
        [f"steps {late_lo:,}-{late_lo + WINDOW - 1:,} (around step {late_at:,})",
         fmt_time(late)],
        ["late / early", fmt_ratio(late / early)],
        [("whole run: wall time / points, including the GIL time the flusher takes "
          "(compare with gitlog total above)"), fmt_time(whole)],
    ]
    cheapest = min(*dv.values(), ml)
    lo, hi = DVCLIVE_AT
    intro = (f"{STEPS:,} steps x 2 metrics, each logger side by side in one process: the "
             "time the training loop spends per metric point. gitlog and the floor are "
             f"medians of {REPEATS} interleaved repeats; the background flusher is held off "
             "during gitlog's loop and its work is timed separately as `run.flush()`. "
             f"DVCLive slows as its run grows, so it is timed in windows of "
             f"{DVCLIVE_WINDOW} steps around steps {lo:,} and {hi:,}; MLflow over "
             f"{MLFLOW_POINTS:,} points. Peers' figures are medians of {PEER_REPEATS} runs "
             "and exclude their imports and set-up (MLflow's database creation); DVCLive "
             "runs with its defaults in a git + DVC repository. The last two columns say "
             "how many times faster gitlog is per point.")
    flat_intro = (f"Flat cost: one run logged to step {LONG_END:,}, flushing every "
                  f"{LONG_FLUSH} s so the flusher works during the loop; the per-point cost "
                  f"is the median over blocks of {BLOCK} steps in each window, median of "
                  f"{LONG_REPEATS} runs.")
    return "\n".join([
        "### Logging overhead per metric point",
        "",
        intro,
        "",
        table(["logger", "what is timed", "points", "per point (median)", "vs floor",
               "peer / gitlog log_metric", "peer / gitlog log_metric + flush"], rows),
        "",
        flat_intro,
        "",
        table(["window", "gitlog per point"], flat_rows),
        "",
        verdict(hot_ratio <= 3,
                f"gitlog `log_metric` within 3x of the floor ({fmt_ratio(hot_ratio)}, the "
                "median of the per-repeat ratios)"),
        verdict(late / early <= FLAT_TOLERANCE,
                f"the same cost per point at step 100 and step {late_at:,} (late / early "
                f"{fmt_ratio(late / early)}, tolerance {FLAT_TOLERANCE:.2f}x)"),
        verdict(cheapest >= 1000 * hot,
                f"at least 1,000x faster per point than both peers "
                f"({fmt_ratio(cheapest / hot)} against the cheapest peer figure; "
                f"{fmt_ratio(cheapest / total)} counting the background flush too)"),
    ])


if __name__ == "__main__":
    main()

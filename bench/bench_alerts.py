"""Benchmark: what alert rules and system metrics cost the training loop.

Times the loop `for step in range(N): run.log_metric("loss", v); run.log_metric("acc", v)`
inside a live run with no rules, with the four rules of issue 6 (nan, spike, threshold,
event; a file notifier), and with system metrics sampled every 0.1 s, next to the raw
floor (appending the same tuples to a list). Also times the rule evaluation the
background flusher runs per batch. Prints one markdown section.

    python bench/bench_alerts.py [--points 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULES = """\
alerts:
  notifiers:
    log: {type: file, path: alerts.jsonl}
  rules:
    - {name: loss-nan,   metric: loss, when: nan,                          notify: [log]}
    - {name: loss-spike, metric: loss, when: spike, factor: 3, window: 20, notify: [log]}
    - {name: acc-low,    metric: acc,  when: threshold, below: -1,         notify: [log]}
    - {name: oom,        event: "out of memory", level: error,            notify: [log]}
system_metrics:
  interval: 0.1
"""


def make_repo(root: Path, rules: bool) -> Path:
    repo = root / ("rules" if rules else "plain")
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "train.py").write_text("pass\n")
    if rules:
        (repo / ".gitlog.yaml").write_text(RULES)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=env)
    return repo


def loop(repo: Path, n: int, system_metrics: bool = False) -> tuple[float, float]:
    """(seconds in the logging loop, seconds start-to-finish)."""
    import gitlog

    began = time.perf_counter()
    run = gitlog.start("bench", repo=repo, system_metrics=system_metrics,
                       flush_interval=0.2)
    t0 = time.perf_counter()
    log = run.log_metric
    for step in range(n):
        log("loss", 1.0 / (step + 1))
        log("acc", 0.5)
    t1 = time.perf_counter()
    run.finish()
    return t1 - t0, time.perf_counter() - began


def floor(n: int) -> float:
    out: list = []
    append = out.append
    t0 = time.perf_counter()
    for step in range(n):
        append((time.time(), "loss", None, 1.0 / (step + 1)))
        append((time.time(), "acc", None, 0.5))
    return time.perf_counter() - t0


def evaluation(n: int) -> float:
    from gitlog.alerts.rules import Evaluator
    from gitlog.alerts.spec import parse_rules
    from gitlog.config import parse

    rules = parse_rules(parse(RULES)["alerts"])
    points = [(0.0, "loss", i, 1.0 / (i + 1)) for i in range(n)] + \
        [(0.0, "acc", i, 0.5) for i in range(n)]
    evaluator = Evaluator(rules)
    t0 = time.perf_counter()
    for i in range(0, len(points), 10_000):
        evaluator.points(points[i:i + 10_000])
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import warnings

    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp(prefix="gitlog-bench-alerts-"))
    try:
        plain, ruled = make_repo(tmp, False), make_repo(tmp, True)
        n = args.points
        results: dict[str, list[tuple[float, float]]] = {"floor": [], "none": [],
                                                           "rules": [], "system": []}
        for _ in range(args.repeat):
            results["floor"].append((floor(n), 0.0))
            results["none"].append(loop(plain, n))
            results["rules"].append(loop(ruled, n))
            results["system"].append(loop(ruled, n, system_metrics=True))
        evals = [evaluation(n) for _ in range(args.repeat)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(key: str, i: int) -> float:
        return statistics.median(r[i] for r in results[key])

    base = med("none", 0)
    total = 2 * n
    print("### Alerts and system metrics: cost to the training loop\n")
    print(f"{total:,} `log_metric` calls (2 metrics x {n:,} steps) in a live run, median of "
          f"{args.repeat}; loop = time inside the logging loop, run = start to finish "
          "(commit included).\n")
    print("| setup | loop (s) | per call (us) | loop vs no rules | run (s) |")
    print("|---|---|---|---|---|")
    rows = [("raw floor: list.append of the tuple", "floor"),
            ("gitlog, no alert rules", "none"),
            ("gitlog, 4 alert rules (nan, spike, threshold, event)", "rules"),
            ("gitlog, 4 rules + system metrics every 0.1 s", "system")]
    for label, key in rows:
        loop_s = med(key, 0)
        run_s = f"{med(key, 1):.3f}" if key != "floor" else "-"
        print(f"| {label} | {loop_s:.3f} | {loop_s / total * 1e6:.2f} | "
              f"{loop_s / base:.2f}x | {run_s} |")
    rate = total / statistics.median(evals)
    print(f"\nRule evaluation in the background flusher: {rate / 1e6:.1f} M points/s.\n")
    worst = max(med("rules", 0), med("system", 0)) / base
    met = "met" if worst <= 1.10 else "NOT met"
    print(f"Target: rules and system metrics add at most 10% to the loop "
          f"(worst {worst:.2f}x): {met}.")


if __name__ == "__main__":
    main()

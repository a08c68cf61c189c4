"""Benchmark: what deployment logging costs a request, and what a window's commit costs.

Per request, in one process, side by side: the floor (two `time.perf_counter()` calls and
a list append: timing requests by hand), `with monitor.request():` (gitlog.monitor), and
`with histogram.time():` of prometheus_client (the usual way to time a service's
requests, in memory too). Then one window of 100,000 requests committed by
`monitor.flush()`, against `git add .gitlog && git commit` of the same files in a copy of
the repository. Prints one markdown section.

    python bench/bench_monitor.py [--requests 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git, make_repo, pin_environment  # noqa: E402


def per_request(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds per call of ``fn`` over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def request_costs(repo: Path, n: int, repeat: int) -> dict[str, list[float]]:
    import gitlog

    mon = gitlog.monitor("bench", repo=repo, window=1e9, system=False)
    kept: list[float] = []
    clock = time.perf_counter

    def floor() -> None:
        start = clock()
        kept.append(clock() - start)

    def monitored() -> None:
        with mon.request():
            pass

    cases = {"floor": floor, "gitlog": monitored}
    try:
        from prometheus_client import CollectorRegistry, Histogram

        histogram = Histogram("request_seconds", "latency", registry=CollectorRegistry())

        def prometheus() -> None:
            with histogram.time():
                pass

        cases["prometheus_client"] = prometheus
    except ImportError:
        pass
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):  # the cases take turns, so the machine's load reaches all
        for name, fn in cases.items():
            kept.clear()
            out[name].append(per_request(fn, n))
    mon.close()
    return out


def commit_costs(repo: Path, repeat: int) -> tuple[list[float], list[float]]:
    """(monitor.flush() of a 100,000-request window, git add + commit of its files)."""
    import gitlog

    flushes, gits = [], []
    mon = gitlog.monitor("window", repo=repo, window=1e9, system=True)
    plain = repo.parent / "plain"
    for _ in range(repeat):
        for i in range(100_000):
            mon.record(0.001 + (i % 100) * 1e-5, error="boom" if i % 1000 == 0 else None,
                       inputs=i)
        start = time.perf_counter()
        commit = mon.flush()
        flushes.append(time.perf_counter() - start)
        # the same files, committed by plain git in a copy of the repository
        shutil.rmtree(plain, ignore_errors=True)
        shutil.copytree(repo, plain)
        shutil.rmtree(plain / ".gitlog", ignore_errors=True)
        subprocess.run(["git", "--work-tree", str(plain), "checkout", str(commit), "--",
                        ".gitlog"], cwd=plain, check=True, capture_output=True)
        git(plain, "reset", "-q")
        start = time.perf_counter()
        git(plain, "add", ".gitlog")
        git(plain, "commit", "-q", "-m", "window")
        gits.append(time.perf_counter() - start)
    mon.close()
    return flushes, gits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitlog-bench-monitor-") as tmp:
        pin_environment(Path(tmp))
        repo = make_repo(Path(tmp) / "service", files=20)
        costs = request_costs(repo, args.requests, args.repeat)
        flushes, gits = commit_costs(repo, args.repeat)
    print(report(costs, flushes, gits, args.requests))
    return 0


def report(costs: dict[str, list[float]], flushes: list[float], gits: list[float],
           n: int) -> str:
    med = {name: statistics.median(values) for name, values in costs.items()}
    floor = med["floor"]
    lines = [
        "### Deployment logging: a request's cost and a window's commit",
        "",
        f"Time per request over {n:,} requests (median of the repeats; the cases take "
        "turns): the floor times a request by hand (two `time.perf_counter()` calls and a "
        "list append); `with monitor.request():` (gitlog) and `with histogram.time():` "
        "(prometheus_client, in memory too). Then `monitor.flush()` of a window of "
        "100,000 requests (100 error samples asked, 5 kept; CPU and memory sampled) vs "
        "`git add .gitlog && git commit` of the same files in a copy of the repository.",
        "",
        "| what | median | × floor | × prometheus_client |",
        "|---|---:|---:|---:|",
    ]
    peer = med.get("prometheus_client")
    for name, label in (("floor", "floor: perf_counter x2 + list append"),
                        ("gitlog", "gitlog `monitor.request()`"),
                        ("prometheus_client", "prometheus_client `Histogram.time()`")):
        if name not in med:
            lines.append(f"| {label} | not installed | | |")
            continue
        vs_peer = f"{med[name] / peer:.2f}x" if peer else ""
        lines.append(f"| {label} | {med[name] * 1e9:,.0f} ns | {med[name] / floor:.2f}x | "
                     f"{vs_peer} |")
    flush, plain = statistics.median(flushes), statistics.median(gits)
    lines += [
        f"| `monitor.flush()`, a 100,000-request window | {flush * 1000:.0f} ms | | |",
        f"| `git add .gitlog && git commit`, its files | {plain * 1000:.0f} ms | | |",
        "",
        (f"Target: a request costs at most 2x prometheus_client's timer: "
         f"{'met' if med['gitlog'] <= 2 * peer else 'not met'} ({med['gitlog'] / peer:.2f}x). "
         if peer else "Target: (prometheus_client not installed). ")
        + f"A window's commit costs {flush / plain:.2f}x plain git's add + commit of its "
        "files (imports, the journal, the index update); it runs once a window in the "
        "monitor's thread, never on a request's, so no target is set for it.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

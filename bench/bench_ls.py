"""Benchmark: `gitlog ls` on 10 and 100 experiment branches, 1,000 and 10,000 runs.

Repositories come from `bench_history.generate` (one `git fast-import`). Timed side by
side in each repeat: the raw-git floor (`git for-each-ref` of the branches + one
`git cat-file --batch` of each tip's metrics.json and run.yaml), `gitlog ls` the first
time (no run counts kept: it walks the history of every tip) and again (counts kept by
commit; nothing moved), and `gitlog --help` (Python start-up and imports, the part of
ls no floor has). Once per repository, `dvc exp show --all-branches --json`, the
peer that lists the same branches with their params and metrics. Prints one markdown
section.

    python bench/bench_ls.py [--repeat 5] [--no-dvc]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pin_environment  # noqa: E402
from bench_history import _run, generate, gitlog_command  # noqa: E402

SHAPES = [(1000, 10), (1000, 100), (10000, 100)]  # (runs, branches)
DVC_TIMEOUT = 300.0
FLOOR = ("git for-each-ref --format='%(objectname):.gitlog/metrics.json%0a"
         "%(objectname):.gitlog/run.yaml' refs/heads/exp/ | git cat-file --batch > /dev/null")


def measure(runs: int, branches: int, path: Path, repeat: int, dvc: bool) -> dict[str, Any]:
    ls = [*gitlog_command(), "ls"]
    kept = path / ".git" / "gitlog" / "run-counts.marshal"
    _run(ls, path)  # untimed: the page cache holds the repository for all
    samples: dict[str, list[float]] = {"floor": [], "first": [], "again": [], "startup": []}
    ratios: dict[str, list[float]] = {"first": [], "again": []}
    for _ in range(repeat):
        floor = _run(FLOOR, path)[0]
        kept.unlink(missing_ok=True)
        first = _run(ls, path)[0]
        again = _run(ls, path)[0]
        startup = _run([*gitlog_command(), "--help"], path)[0]
        for name, value in (("floor", floor), ("first", first), ("again", again),
                            ("startup", startup)):
            samples[name].append(value)
        ratios["first"].append(first / floor)
        ratios["again"].append(again / floor)
    row = {"runs": runs, "branches": branches,
           **{name: statistics.median(values) for name, values in samples.items()},
           **{f"{name}_ratio": statistics.median(values) for name, values in ratios.items()}}
    if dvc:
        row["dvc"] = _dvc(path)
    return row


def _dvc(path: Path) -> float | str:
    """Seconds of one `dvc exp show --all-branches --json`, or why there are none."""
    dvc_bin = Path(sys.executable).with_name("dvc")
    if not dvc_bin.exists():
        return "not installed"
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    try:
        proc = subprocess.run([str(dvc_bin), "exp", "show", "--all-branches", "--json"],
                              cwd=path, env=env, capture_output=True, timeout=DVC_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        return f"over {DVC_TIMEOUT:.0f} s"
    if proc.returncode != 0:
        return f"failed (exit {proc.returncode})"
    return _run([str(dvc_bin), "exp", "show", "--all-branches", "--json"], path, env)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-dvc", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="gitlog-bench-ls-") as tmp:
        pin_environment(Path(tmp))
        for runs, branches in SHAPES:
            path = generate(Path(tmp) / f"runs-{runs}-{branches}", runs, branches)
            rows.append(measure(runs, branches, path, args.repeat, dvc=not args.no_dvc))
            loads.append(os.getloadavg()[0])
    print(report(rows, loads))
    return 0


def _ms(seconds: float | str | None) -> str:
    if seconds is None:
        return "-"
    return seconds if isinstance(seconds, str) else f"{seconds * 1000:,.0f} ms"


def report(rows: list[dict[str, Any]], loads: list[float] | None = None) -> str:
    lines = [
        "### gitlog ls across experiment branches",
        "",
        "`gitlog ls` on generated repositories (`bench_history.generate`: 1,000 runs on 10 "
        "branches, 1,000 and 10,000 runs on 100), wall time, median, against the raw-git "
        "floor (`git for-each-ref` of the branches + one `git cat-file --batch` of each "
        "tip's metrics.json and run.yaml; it parses nothing and starts no Python). "
        "*first*: no run counts kept, every tip's history walked (one path-limited "
        "`git log` for all tips); *again*: counts kept by commit in "
        "`.git/gitlog/run-counts.marshal`, no branch moved. Floor, first and again take "
        "turns in each repeat; × floor is the median of the per-repeat ratios. "
        "`dvc exp show --all-branches --json` (the peer listing the same branches with "
        "their params and metrics) runs once per repository."
        + (" Load average (1 min) during the run: "
           + ", ".join(f"{v:.1f}" for v in loads) + "." if loads else ""),
        "",
        "| runs | branches | floor | ls, first | × floor | ls, again | × floor | "
        "dvc exp show --all-branches | dvc ÷ ls again |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        dvc = r.get("dvc")
        versus = f"{dvc / r['again']:.0f}×" if isinstance(dvc, float) else "-"
        lines.append(f"| {r['runs']:,} | {r['branches']} | {_ms(r['floor'])} | "
                     f"{_ms(r['first'])} | {r['first_ratio']:.1f}× | {_ms(r['again'])} | "
                     f"{r['again_ratio']:.1f}× | {_ms(dvc)} | {versus} |")
    verdicts = []
    small = next((r for r in rows if r["runs"] == 1000 and r["branches"] == 100), None)
    big = next((r for r in rows if r["runs"] == 10000 and r["branches"] == 100), None)
    if small and big:
        growth = big["again"] / small["again"]
        verdicts.append(f"ls flat in the number of runs (again, 10,000 ÷ 1,000 runs at 100 "
                        f"branches ≤ 1.2×): {'met' if growth <= 1.2 else 'not met'} "
                        f"({growth:.2f}×; first: {big['first'] / small['first']:.2f}×)")
    for r in (small, big):
        if r and isinstance(r.get("dvc"), float):
            ok = r["dvc"] > r["first"]
            verdicts.append(f"ls faster than the peer at 100 branches, {r['runs']:,} runs, "
                            f"counting from nothing: {'met' if ok else 'not met'} "
                            f"({r['dvc'] / r['first']:.1f}×)")
    for r in (small, big):
        if r:  # (not a target: start-up alone is several times the floor)
            verdicts.append(f"for reference, at {r['runs']:,} runs `gitlog --help` alone "
                            f"takes {_ms(r['startup'])} = {r['startup'] / r['floor']:.1f}× "
                            "the floor")
    lines += ["", "Targets: " + "; ".join(verdicts) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

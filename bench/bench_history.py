"""Benchmark: `gitlog history --metric loss --all` on generated repositories.

Repositories of 1,000 and 10,000 run commits on 100 experiment branches are generated with
one `git fast-import` (cached under the temp dir for the length of the run), then timed:
gitlog cold (no index) and warm (index filled), a naive GitPython loop, the raw-git floor
(`git log` + one `git cat-file --batch`), and at 1,000 commits `dvc metrics show
--all-commits --json`. gitlog runs as its console script (as users run it), with its
bytecode compiled first, as installing a wheel does. Prints one markdown section.

    python bench/bench_history.py [--sizes 1000,10000] [--repeat 5] [--no-dvc]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pin_environment  # noqa: E402

BRANCHES = 100
METRICS_PATH = ".gitlog/metrics.json"
BASE_TIME = 1_700_000_000
CODE = "import numpy as np\n\n\ndef train(lr):\n    return {version}\n"
RUN_YAML = """code_commit: {code}
code_tree: null
command: python train.py --lr {lr}
dirty: {dirty}
end: '2023-11-14T22:{mm:02d}:00Z'
experiment: {exp}
id: run-{exp}-{k:05d}
start: '2023-11-14T22:{mm:02d}:00Z'
status: completed
"""
DVC_YAML = "metrics:\n- .gitlog/metrics.json\nparams:\n- .gitlog/params.yaml\n"


def _data(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return b"data %d\n" % len(raw) + raw + b"\n"


def generate(path: str | Path, runs: int, branches: int = BRANCHES) -> Path:
    """A repository with ``runs`` run commits spread over ``branches`` exp/ branches."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--initial-branch=main", str(path)], check=True)
    ident = b"Bench <bench@example.com>"
    out = bytearray()
    out += b"commit refs/heads/main\nmark :1\n"
    out += b"committer %s %d +0000\n" % (ident, BASE_TIME)
    out += _data("Initial code")
    for name, text in (("train.py", CODE.format(version=0)), ("dvc.yaml", DVC_YAML),
                       (".dvc/config", ""), (".dvc/.gitignore", "/config.local\n/tmp\n/cache\n"),
                       (".dvcignore", "")):
        out += b"M 100644 inline %s\n" % name.encode() + _data(text)
    out += b"\n"
    per_branch = [runs // branches + (1 if b < runs % branches else 0) for b in range(branches)]
    mark = 2
    last: dict[int, int] = {}
    for k in range(max(per_branch)):
        for b in range(branches):
            if k >= per_branch[b]:
                continue
            exp = f"b{b:03d}"
            loss = round(1.0 / (k + 2) + (b % 7) * 0.01 + (k % 5) * 0.003, 6)
            acc = round(1 - loss / 2, 6)
            when = BASE_TIME + 60 * (1 + k * branches + b)
            lr = 0.01 * (1 + b % 5)
            dirty = k % 10 == 9
            msg = (f"{exp}: run {k}\n\nloss={loss} accuracy={acc}\n\n"
                   f"Gitlog-Run: run-{exp}-{k:05d}\nGitlog-Experiment: {exp}\n"
                   "Gitlog-Code: none\nGitlog-Status: completed\n")
            out += b"commit refs/heads/exp/%s\nmark :%d\n" % (exp.encode(), mark)
            out += b"committer %s %d +0000\n" % (ident, when)
            out += _data(msg)
            out += b"from :%d\n" % last.get(b, 1)
            files = {
                ".gitlog/run.yaml": RUN_YAML.format(code="none", lr=lr, dirty=str(dirty).lower(),
                                                    mm=k % 60, exp=exp, k=k),
                ".gitlog/metrics.json": json.dumps({"accuracy": acc, "loss": loss, "step": 9},
                                                   indent=2, sort_keys=True) + "\n",
                ".gitlog/params.yaml": f"epochs: 10\nlr: {lr}\n",
                ".gitlog/metrics/loss.tsv": "timestamp\tstep\tloss\n" + "".join(
                    f"{when}.0\t{s}\t{loss + (9 - s) * 0.01}\n" for s in range(10)),
            }
            if k % 10 == 9:
                files["train.py"] = CODE.format(version=k)
            for name, text in files.items():
                out += b"M 100644 inline %s\n" % name.encode() + _data(text)
            out += b"\n"
            last[b] = mark
            mark += 1
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(out), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=path, check=True)
    return path


# Runs one command and reports (wall seconds, peak RSS in KiB, CPU seconds, exit code).
# The command is forked from this small interpreter (no site, ~7 MB), not from the
# benchmark: Linux charges a process the memory of the one it was forked from
# (exec records the old address space's peak), so a command forked straight from a
# benchmark holding a generated repository would report that process's size instead.
_LAUNCH = """import os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(sys.argv[1], "w") as fh:
    fh.write(f"{wall} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime} "
             f"{os.waitstatus_to_exitcode(status)}")
"""


def _run(cmd: list[str] | str, cwd: Path, env: dict[str, str] | None = None) -> \
        tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds incl. children) of one command."""
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else cmd
    with tempfile.NamedTemporaryFile("r", prefix="gitlog-bench-run-") as out:
        subprocess.run([sys.executable, "-S", "-c", _LAUNCH, out.name, *argv], cwd=cwd,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        wall, rss, cpu, code = out.read().split()
    if int(code) != 0:
        raise SystemExit(f"benchmark command failed: {cmd}")
    return float(wall), int(rss) / 1024, float(cpu)


# gitlog's own peak memory, apart from the git processes it runs (whose peak is the
# floor's kind: git log holds every commit of a --reverse walk): gitlog's main, run in a
# process that writes its own peak RSS when it ends.
_OWN_RSS = """import atexit, resource, sys
def _write(path=sys.argv[1]):
    with open(path, "w") as fh:
        fh.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(_write)
sys.argv = ["gitlog", *sys.argv[2:]]
from gitlog.cli import main
main()
"""


def own_rss(args: list[str], cwd: Path) -> float:
    """Peak RSS in MB of gitlog's own process running ``gitlog ARGS``."""
    with tempfile.NamedTemporaryFile("r", prefix="gitlog-bench-rss-") as out:
        _run([sys.executable, "-c", _OWN_RSS, out.name, *args], cwd)  # from the launcher
        return int(out.read()) / 1024


def _summary(samples: list[tuple[float, float, float]]) -> dict[str, float]:
    walls, peaks, cpus = zip(*samples, strict=True)
    return {"s": statistics.median(walls), "mb": max(peaks), "cpu": statistics.median(cpus)}


def gitlog_command() -> list[str]:
    """The console script users run (next to this interpreter), else ``python -m gitlog``."""
    script = Path(sys.executable).parent / "gitlog"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gitlog"]


NAIVE = """
import json, git
repo = git.Repo(".")
values = []
for commit in repo.iter_commits("--all"):
    try:
        blob = commit.tree / ".gitlog/metrics.json"
    except KeyError:
        continue
    values.append(json.loads(blob.data_stream.read()).get("loss"))
"""


# The bound for any Python command: this interpreter starting (with site, as gitlog's
# console script does), starting a git pipe and reading what it writes to nothing, with no
# parsing. Given the floor's own two commands, it times Python's start and the pipe into
# it; given the commands gitlog's walk runs (the fields a row needs, each root tree for the
# code's identity), it times what gitlog cannot avoid before it reads a single row.
DRAIN = """import json, subprocess, sys
log_args, cat_args = json.loads(sys.argv[1])
log = subprocess.Popen(log_args, stdout=subprocess.PIPE)
cat = subprocess.Popen(cat_args, stdin=log.stdout, stdout=subprocess.PIPE)
log.stdout.close()
read = cat.stdout.read1
while read(65536):
    pass
sys.exit(log.wait() or cat.wait())
"""


def drain_commands(gitlog_pipe: bool) -> str:
    """DRAIN's argument: the floor's two git commands, or (``gitlog_pipe``) the two that
    ``gitlog.walk.answers`` starts for ``history --metric loss --all``."""
    log = ["git", "log", "--all", f"--format=%H:{METRICS_PATH}", "--", METRICS_PATH]
    cat = ["git", "cat-file", "--batch"]
    if gitlog_pipe:
        from gitlog import walk

        log = ["git", "log", "--parents", "--full-history", "--source", "--no-color",
               "--no-decorate", "--no-notes", "--no-show-signature",
               f"--format=%T {walk._FIELDS}%n%T:{METRICS_PATH}", "--date-order", "--reverse",
               "--all", "--", ".gitlog/run.yaml", METRICS_PATH]
        cat = ["git", "cat-file", walk._BATCH, "--buffer"]
    return json.dumps([log, cat])


def one_more_run(path: Path) -> tuple[str, str, str]:
    """(ref, old tip, new tip) of a run commit made on top of exp/b000, not checked out."""
    ref = "refs/heads/exp/b000"
    old = subprocess.run(["git", "rev-parse", ref], cwd=path, capture_output=True,
                         text=True, check=True).stdout.strip()
    env = dict(os.environ, GIT_INDEX_FILE=str(path / ".git" / "bench-index"))
    git = {"cwd": path, "env": env, "capture_output": True, "text": True, "check": True}
    subprocess.run(["git", "read-tree", old], **git)  # type: ignore[arg-type]
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], input='{"loss": 0.01}\n',
                          **git).stdout.strip()  # type: ignore[arg-type]
    subprocess.run(["git", "update-index", "--cacheinfo", f"100644,{blob},{METRICS_PATH}"],
                   **git)  # type: ignore[arg-type]
    tree = subprocess.run(["git", "write-tree"], **git).stdout.strip()  # type: ignore[arg-type]
    new = subprocess.run(["git", "commit-tree", tree, "-p", old, "-m",
                          "b000: one more\n\nGitlog-Run: run-b000-more\n"
                          "Gitlog-Experiment: b000\n"], **git).stdout.strip()  # type: ignore[arg-type]
    os.unlink(env["GIT_INDEX_FILE"])
    return ref, old, new


def measure(size: int, path: Path, repeat: int, dvc: bool) -> list[dict[str, Any]]:
    """The commands side by side: each repeat runs floor, cold and warm in turn, so a
    change in the machine's load reaches all three; ratios are taken per repeat. Then a
    history after one more run on a branch, from the index the warm query left."""
    args = ["history", "--metric", "loss", "--all"]
    gitlog = [*gitlog_command(), *args]
    index = path / ".git" / "gitlog"
    floor_cmd = (f"git log --all --format=%H:{METRICS_PATH} -- {METRICS_PATH} "
                 "| git cat-file --batch > /dev/null")
    drains = {"drain floor": [sys.executable, "-c", DRAIN, drain_commands(False)],
              "drain pipe": [sys.executable, "-c", DRAIN, drain_commands(True)]}
    samples: dict[str, list[tuple[float, float, float]]] = {
        "floor": [], "cold": [], "warm": [], "added": [], "drain floor": [], "drain pipe": []}
    ratios: dict[str, list[float]] = {"cold": [], "warm": [], "drain floor": [],
                                      "drain pipe": []}
    _run(gitlog, path)  # one untimed run: the page cache holds the repository for all
    for _ in range(repeat):
        floor = _run(floor_cmd, path)
        shutil.rmtree(index, ignore_errors=True)
        cold = _run(gitlog, path)
        warm = _run(gitlog, path)
        taken = [("floor", floor), ("cold", cold), ("warm", warm)]
        taken += [(name, _run(cmd, path)) for name, cmd in drains.items()]
        for name, sample in taken:
            samples[name].append(sample)
            if name in ratios:
                ratios[name].append(sample[0] / floor[0])
    shutil.rmtree(index, ignore_errors=True)
    own = {"cold": own_rss(args, path), "warm": own_rss(args, path)}
    # one run more on a branch, the index as the previous query left it
    stored = path / ".git" / "gitlog-stored"
    shutil.rmtree(stored, ignore_errors=True)
    shutil.copytree(index, stored)
    ref, old, new = one_more_run(path)
    for _ in range(repeat):
        shutil.rmtree(index)
        shutil.copytree(stored, index)
        subprocess.run(["git", "update-ref", ref, new], cwd=path, check=True)
        samples["added"].append(_run(gitlog, path))
        subprocess.run(["git", "update-ref", ref, old], cwd=path, check=True)
    shutil.rmtree(index)
    shutil.copytree(stored, index)
    subprocess.run(["git", "update-ref", ref, new], cwd=path, check=True)
    own["added"] = own_rss(args, path)
    subprocess.run(["git", "update-ref", ref, old], cwd=path, check=True)
    shutil.rmtree(stored)
    # --step: each run's series read too (its own floor reads every series blob)
    step_args = [*args, "--step", "last"]
    series = ".gitlog/metrics/loss.tsv"
    step_floor_cmd = (f"git log --all --format=%H:{series} -- {METRICS_PATH} "
                      "| git cat-file --batch > /dev/null")
    step_ratios: list[float] = []
    for _ in range(repeat):
        floor = _run(step_floor_cmd, path)
        shutil.rmtree(index, ignore_errors=True)
        cold = _run([*gitlog_command(), *step_args], path)
        samples.setdefault("step floor", []).append(floor)
        samples.setdefault("step cold", []).append(cold)
        step_ratios.append(cold[0] / floor[0])
    shutil.rmtree(index, ignore_errors=True)
    own["step"] = own_rss(step_args, path)
    rows = [
        {"what": "floor: git log + one git cat-file --batch", **_summary(samples["floor"]),
         "ratio": 1.0},
        {"what": "bound: Python draining the floor's pipe (no parsing)",
         **_summary(samples["drain floor"]), "ratio": statistics.median(ratios["drain floor"])},
        {"what": "bound: Python draining gitlog's pipe (the fields a row needs, no parsing)",
         **_summary(samples["drain pipe"]), "ratio": statistics.median(ratios["drain pipe"])},
        {"what": "gitlog history, cold (no index)", **_summary(samples["cold"]),
         "ratio": statistics.median(ratios["cold"]), "own": own["cold"]},
        {"what": "gitlog history, warm (index)", **_summary(samples["warm"]),
         "ratio": statistics.median(ratios["warm"]), "own": own["warm"]},
        {"what": "gitlog history, after one new run (index of the query before)",
         **_summary(samples["added"]), "own": own["added"]},
        {"what": "floor (steps): git log + one git cat-file --batch of each loss.tsv",
         **_summary(samples["step floor"]), "ratio": 1.0},
        {"what": "gitlog history --step last, cold (× its floor)",
         **_summary(samples["step cold"]), "ratio": statistics.median(step_ratios),
         "own": own["step"]},
        {"what": "naive GitPython iter_commits loop",
         **_summary([_run([sys.executable, "-c", NAIVE], path)
                     for _ in range(max(1, repeat // 3))])},
    ]
    if dvc:
        env = dict(os.environ, DVC_NO_ANALYTICS="1")
        dvc_bin = Path(sys.executable).with_name("dvc")
        rows.append({"what": "dvc metrics show --all-commits --json",
                     **_summary([_run([str(dvc_bin), "metrics", "show", "--all-commits",
                                       "--json"], path, env)])})
    floor_s = rows[0]["s"]
    for row in rows:
        row["size"] = size
        row.setdefault("ratio", row["s"] / floor_s)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-dvc", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="gitlog-bench-history-") as tmp:
        pin_environment(Path(tmp))
        for size in sizes:
            path = generate(Path(tmp) / f"runs-{size}", size)
            results += measure(size, path, args.repeat, dvc=size <= 1000 and not args.no_dvc)
            loads.append(os.getloadavg()[0])
    print(report(results, loads))
    return 0


def report(results: list[dict[str, Any]], loads: list[float] | None = None) -> str:
    lines = [
        "### gitlog history across run commits",
        "",
        "`gitlog history --metric loss --all` on generated repositories of 1,000 and 10,000 "
        "run commits on 100 experiment branches (wall time, median; peak RSS: the largest "
        "of the command and the processes it ran; gitlog's own: its process alone, without "
        "the git processes it runs), against the raw-git floor (`git log "
        "--all --format=%H -- .gitlog/metrics.json` + one `git cat-file --batch`), a naive "
        "GitPython loop and "
        "`dvc metrics show --all-commits --json`. The two bounds time a Python process (with "
        "site, as gitlog's console script) that starts a git pipe and reads its output to "
        "nothing, parsing none of it: the floor's own two commands, and the two gitlog's walk "
        "starts (the fields a row needs and each root tree, for the code's identity). "
        "Floor, cold, warm and the bounds take turns in each "
        "repeat; × floor is the median of the per-repeat ratios. `--step last` reads each "
        "run's `metrics/loss.tsv` too, against a floor that reads those instead of "
        "metrics.json."
        + (" Load average (1 min) during the run: "
           + ", ".join(f"{v:.1f}" for v in loads) + "." if loads else ""),
        "",
        "| runs | command | median wall | × floor | median CPU (user+sys) | peak RSS | "
        "gitlog's own |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        own = f"{r['own']:.1f} MB" if "own" in r else "-"
        lines.append(f"| {r['size']:,} | {r['what']} | {r['s'] * 1000:,.0f} ms | "
                     f"{r['ratio']:.1f}× | {r['cpu'] * 1000:,.0f} ms | {r['mb']:.0f} MB | "
                     f"{own} |")
    verdicts = []

    def find(size: int, prefix: str) -> dict[str, Any] | None:
        return next((r for r in results if r["size"] == size and r["what"].startswith(prefix)),
                    None)

    for size in sorted({r["size"] for r in results}):
        cold = find(size, "gitlog history, cold")
        if cold:
            ok = cold["ratio"] <= 2
            bound = find(size, "bound: Python draining gitlog's")
            verdicts.append(f"cold ≤ 2× floor at {size:,}: {'met' if ok else 'not met'} "
                            f"({cold['ratio']:.1f}×"
                            + (f"; a Python process that only drains the pipe gitlog reads: "
                               f"{bound['ratio']:.1f}×" if bound else "") + ")")
    big = max(r["size"] for r in results)
    warm = find(big, "gitlog history, warm")
    if warm:
        verdicts.append(f"warm < 0.3 s at {big:,}: {'met' if warm['s'] < 0.3 else 'not met'} "
                        f"({warm['s']:.2f} s)")
    dvc = find(1000, "dvc")
    for state in ("cold", "warm"):
        mine = find(1000, f"gitlog history, {state}")
        if dvc and mine:
            speedup = dvc["s"] / mine["s"]
            verdicts.append(f"≥ 100× faster than dvc metrics show at 1,000 ({state}): "
                            f"{'met' if speedup >= 100 else 'not met'} ({speedup:.0f}×)")
    for state, prefix in (("cold", "gitlog history, cold"), ("warm", "gitlog history, warm"),
                          ("--step last, cold", "gitlog history --step last, cold")):
        mems = [(r["size"], r["own"]) for r in results
                if r["what"].startswith(prefix) and "own" in r]
        text = ", ".join(f"{mb:.1f} MB at {size:,}" for size, mb in mems)
        if len(mems) > 1:  # flat: under 1 MB more for every 10,000 runs more
            (n0, m0), (n1, m1) = mems[0], mems[-1]
            per_run = (m1 - m0) * 1024 / (n1 - n0)
            text += f" ({per_run:+.2f} KB a run): {'flat' if per_run < 0.1 else 'not flat'}"
        verdicts.append(f"gitlog's own peak memory ({state}): {text}")
    floors = [(r["size"], r["mb"]) for r in results if r["what"].startswith("floor:")]
    if len(floors) > 1:
        (n0, m0), (n1, m1) = floors[0], floors[-1]
        verdicts.append(f"(the floor's git grows {(m1 - m0) * 1024 / (n1 - n0):.2f} KB a run: "
                        f"{m0:.0f} to {m1:.0f} MB)")
    lines += ["", "Targets: " + "; ".join(verdicts) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

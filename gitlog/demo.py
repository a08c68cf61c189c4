"""``gitlog demo``: a real ML repository with real training runs.

It writes a training script (scikit-learn's breast-cancer data set, shipped inside the
package), commits it, sets gitlog up, and logs runs on two experiments, with a code
change between runs (feature scaling) that moves the loss.
"""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GitlogError
from .git import run_git
from .resources import template

SCALING_OLD = '''def preprocess(x_train, x_val):
    """Features go to the model as they are."""
    return x_train, x_val, []
'''
SCALING_NEW = '''def preprocess(x_train, x_val):
    """Standardise features with the training set's mean and deviation."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), ["standardize features"]
'''
DEPLOY_BRANCH = "deploy/breast-cancer"  # where serve.py's windows go
DEMO_IDENT = {"user.name": "gitlog demo", "user.email": "demo@gitlog.invalid"}


@dataclass
class DemoRun:
    experiment: str
    commit: str
    status: str
    note: str


@dataclass
class DemoResult:
    path: Path
    runs: list[DemoRun] = field(default_factory=list)


def default_dir(base: Path) -> Path:
    for i in range(1, 1000):
        candidate = base / ("gitlog-demo" if i == 1 else f"gitlog-demo-{i}")
        if not candidate.exists():
            return candidate
    raise GitlogError("no free gitlog-demo folder name", hint="pass a folder: gitlog demo DIR")


def demo_target(path: str | Path | None) -> Path:
    """The folder the demo is built in: ``path``, new or empty, else a new ./gitlog-demo;
    a file (or a path under one) or a folder that holds files is an error."""
    target = Path(path) if path else default_dir(Path.cwd())
    hint = "pass a new folder: gitlog demo DIR"
    if target.is_dir():
        if any(target.iterdir()):
            raise GitlogError(f"{target} exists and is not empty", hint=hint)
        return target
    if target.exists():
        raise GitlogError(f"{target} is a file, not a folder", hint=hint)
    above = next((p for p in target.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise GitlogError(f"{above} is a file, not a folder: {target} cannot be made in it",
                          hint=hint)
    return target


def build_demo(path: str | Path | None = None, *, progress: object = None) -> DemoResult:
    """Build the demo repository at ``path`` (default: a new ./gitlog-demo folder)."""
    from .procrun import run_command
    from .project import init_project

    say = progress if callable(progress) else (lambda _msg: None)
    target = demo_target(path)
    target.mkdir(parents=True, exist_ok=True)
    run_git(["init", "-q", "--initial-branch=main"], target)
    if run_git(["var", "GIT_COMMITTER_IDENT"], target, check=False).returncode != 0:
        for key, value in DEMO_IDENT.items():
            run_git(["config", key, value], target)
    script = template("demo/train.py").read_text(encoding="utf-8")
    (target / "train.py").write_text(script, encoding="utf-8")
    (target / "serve.py").write_text(template("demo/serve.py").read_text(encoding="utf-8"),
                                     encoding="utf-8")
    (target / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")
    init_project(target)
    _commit(target, "Logistic regression, breast-cancer data")

    result = DemoResult(target)
    python = sys.executable

    def train(experiment: str, note: str, *args: str) -> None:
        say(f"training: {experiment} ({note})")
        sink = io.BytesIO()
        done = run_command([python, "train.py", *args], repo=target, experiment=experiment,
                           stdout=sink, stderr=sink, cwd=target)
        if done.exit_code != 0:
            raise GitlogError(f"demo training failed ({experiment}):\n"
                              + sink.getvalue().decode(errors="replace")[-2000:])
        result.runs.append(DemoRun(experiment, done.run.commit or "", done.status, note))

    train("baseline", "raw features", "--lr", "0.01")
    (target / "train.py").write_text(script.replace(SCALING_OLD, SCALING_NEW), encoding="utf-8")
    _commit(target, "Standardise features before training")
    train("baseline", "standardised features", "--lr", "0.01")
    train("high-lr", "standardised features, 10x learning rate", "--lr", "0.1")
    train("high-lr", "standardised features, 10x learning rate, stronger L2", "--lr", "0.1",
          "--alpha", "0.01")
    say(f"serving: the model of high-lr, two windows of requests ({DEPLOY_BRANCH})")
    served = subprocess.run([python, "serve.py", "--version", "high-lr"], cwd=target,
                            capture_output=True)
    if served.returncode != 0:
        raise GitlogError("demo serving failed:\n"
                          + served.stderr.decode(errors="replace")[-2000:])
    return result


def gitlog_command() -> str:
    """How the user's shell runs this gitlog, for the commands the demo suggests:
    ``gitlog`` when that name finds it on PATH; else its console script by full path
    (``make demo`` runs ``.venv/bin/gitlog``, a folder not on PATH); else
    ``python -m gitlog`` with this interpreter."""
    import os
    import shutil
    from shlex import quote

    script = Path(sys.executable).with_name("gitlog")
    found = shutil.which("gitlog")
    if not script.is_file():
        return "gitlog" if found else f"{quote(sys.executable)} -m gitlog"
    if found and os.path.samefile(found, script):
        return "gitlog"
    return quote(str(script))


def _commit(root: Path, message: str) -> None:
    run_git(["add", "-A"], root)
    run_git(["commit", "-q", "-m", message], root)

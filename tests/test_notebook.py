"""gitlog.start() from a Jupyter kernel (simulated: ipykernel is no dependency) or a
prompt: the experiment's name, the command run.yaml records, ``gitlog reproduce`` of
such a run, and a re-run cell's run."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, make_repo, run_cli

# What a kernel looks like to gitlog: its sys.argv, ipykernel imported; each cell is
# compiled under a file name of its own and run in __main__'s namespace, as ipykernel does.
KERNEL = """\
import sys, types
sys.argv = ['/venv/lib/python3.11/site-packages/ipykernel_launcher.py', '-f',
            '/run/user/1000/jupyter/runtime/kernel-4f2a.json']
sys.modules['ipykernel'] = types.ModuleType('ipykernel')
ns = {{'__name__': '__main__'}}
for number, cell in enumerate({cells!r}):
    exec(compile(cell, f'/tmp/ipykernel_77/{{number}}.py', 'exec'), ns)
"""


def kernel(repo: Path, *cells: str, notebook: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "JPY_SESSION_NAME": notebook, "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-c", KERNEL.format(cells=list(cells))],
                          cwd=repo, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done


def run_yaml(repo: Path, rev: str) -> dict:
    from ruamel.yaml import YAML

    return dict(YAML(typ="safe").load(git(repo, "show", f"{rev}:.gitlog/run.yaml")))


CELL = "import gitlog\nrun = gitlog.start()\nrun.log_metric('loss', 0.5)\nrun.finish()\n"


def test_a_notebook_run_is_named_after_the_notebook_and_records_no_launcher(
        tmp_path: Path) -> None:
    """From a kernel the default experiment was 'ipykernel_launcher' and the command
    'python ipykernel_launcher.py -f .../kernel-4f2a.json' (a connection file gone once the
    kernel stops). Now: the notebook's name (JPY_SESSION_NAME), else 'notebook', and no
    command, with where the code was typed in."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    kernel(repo, CELL, notebook=str(repo / "nb" / "Train Model.ipynb"))
    kernel(repo, CELL)
    assert git(repo, "branch", "--list", "exp/*", "--format=%(refname:short)").split() == \
        ["exp/Train-Model", "exp/notebook"]
    named = run_yaml(repo, "exp/Train-Model")
    assert (named["command"], named["interactive"], named["notebook"]) == (
        None, "jupyter kernel", "nb/Train Model.ipynb")
    plain = run_yaml(repo, "exp/notebook")
    assert (plain["command"], plain["interactive"], "notebook" in plain) == (
        None, "jupyter kernel", False)
    shown = run_cli("show", "Train-Model", cwd=repo)
    assert "interactive     jupyter kernel\nnotebook        nb/Train Model.ipynb\n" in \
        shown.stdout


def test_reproduce_of_a_notebook_run_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """Reproducing a kernel's run ran the kernel launcher: a kernel with no connection
    file, that logged a failed run (or waited for a client). Refused now, with the fix."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    kernel(repo, CELL, notebook=str(repo / "nb" / "Train Model.ipynb"))
    kernel(repo, CELL)
    # a run recorded before gitlog knew kernels: the launcher's command line
    old = ("import gitlog\nwith gitlog.start('old', command='python3.11 -m ipykernel_launcher"
           " -f /tmp/kernel-1.json') as run:\n    run.log_metric('loss', 0.5)\n")
    assert subprocess.run([sys.executable, "-c", old], cwd=repo).returncode == 0
    tips = git(repo, "for-each-ref", "refs/heads")
    errors = {}
    for experiment in ("Train-Model", "notebook", "old"):
        run_id = run_yaml(repo, f"exp/{experiment}")["id"]
        proc = run_cli("reproduce", experiment, cwd=repo)
        assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
        errors[experiment] = proc.stderr.replace(run_id, "ID").splitlines()
    assert errors == {
        "Train-Model": [
            "Error: run ID was logged from a Jupyter kernel (notebook nb/Train Model.ipynb): "
            "it recorded no command that runs its code again",
            "hint: give the command: gitlog reproduce REV -- python 'nb/Train Model.py' (a "
            "script of the notebook: jupyter nbconvert --to script 'nb/Train Model.ipynb')"],
        "notebook": [
            "Error: run ID was logged from a Jupyter kernel: it recorded no command that "
            "runs its code again",
            "hint: give the command: gitlog reproduce REV -- python train.py"],
        "old": [
            "Error: run ID was logged from a Jupyter kernel: it recorded no command that "
            "runs its code again",
            "hint: give the command: gitlog reproduce REV -- python train.py"],
    }
    assert git(repo, "for-each-ref", "refs/heads") == tips  # no run was logged
    # the fix the hint names works
    (repo / "train.py").write_text(CELL)
    git(repo, "add", "train.py")
    git(repo, "commit", "-qm", "script")
    kernel(repo, CELL)
    proc = run_cli("reproduce", "notebook", "--", sys.executable, "train.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr


def test_a_re_run_cell_finishes_the_run_the_earlier_run_left_open(tmp_path: Path) -> None:
    """A cell 'run = gitlog.start(...)' executed twice left the first run open for the
    kernel's lifetime, unsaid (its object gone: 'run' names the new one). Now it is
    finished (committed) when the new run starts, with a warning naming it."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    cell = "import gitlog\nrun = gitlog.start('sweep')\nrun.log_metric('loss', 0.5)\n"
    count = ("import subprocess\nprint('runs committed:', subprocess.run(['git', 'rev-list',"
             " '--count', 'exp/sweep', '--', '.gitlog'], capture_output=True,"
             " text=True).stdout.strip() or 0, flush=True)\n")
    done = kernel(repo, cell, count, cell, count, "run.finish()\n" + count)
    assert done.stdout.splitlines() == ["runs committed: 0", "runs committed: 1",
                                        "runs committed: 2"]
    first = git(repo, "rev-parse", "exp/sweep^").strip()
    first_id = run_yaml(repo, first)["id"]
    assert run_yaml(repo, first)["status"] == "completed"
    assert done.stderr.splitlines() == [
        f"/tmp/ipykernel_77/2.py:2: GitlogWarning: gitlog: run {first_id} of 'sweep' was "
        f"still open from an earlier cell: finished it (completed, commit {first[:10]}); "
        "end a run with run.finish() or a 'with' block"]


def test_a_script_may_keep_several_runs_open(tmp_path: Path) -> None:
    """Outside a kernel nothing changes: a function may return a run for its caller."""
    repo = make_repo(tmp_path / "p", {"README": "r\n"})
    script = ("import gitlog\ndef make():\n    return gitlog.start('s')\n"
              "a, b = make(), make()\na.log_metric('loss', 1)\nb.log_metric('loss', 2)\n"
              "b.finish()\na.finish()\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True,
                          text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert git(repo, "rev-list", "--count", "exp/s").strip() == "3"
    assert run_yaml(repo, "exp/s")["command"] == shlex.join(
        [Path(sys.executable).name, "-c", script])

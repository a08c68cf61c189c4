"""``gitlog history`` reads plain arguments without click (``gitlog.cli._fastpath``): the
same rows, messages and exit codes as through click, which still reads everything else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitlog.cli._fastpath import DEFAULTS, OPTIONS, history_arguments
from gitlog.cli.history import history
from tests.conftest import run_cli
from tests.runrepo import iso
from tests.test_history import two_experiments


@pytest.fixture(scope="module")
def twoexp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fastpath") / "proj"
    two_experiments(path)
    return path


def _kind(param: object) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    if getattr(param, "multiple", False):
        return "values"
    return "optional" if getattr(param, "_flag_needs_value", False) else "value"


def test_the_option_table_is_the_click_commands() -> None:
    options = {opt: (p.name, _kind(p)) for p in history.params
               if p.param_type_name == "option" for opt in p.opts}
    assert options == OPTIONS
    assert set(DEFAULTS) == {p.name for p in history.params}


@pytest.mark.parametrize("args", [
    [],
    ["-m", "loss", "--all"],
    ["--metric=loss,accuracy", "-m", "f1", "exp/a", "--format", "markdown"],
    ["--all", "-m", "loss", "--regressions"],
    ["--regressions", "--all", "-m", "loss"],
    ["-m", "loss", "--regressions", "10%", "--all"],
    ["-m", "loss", "--regressions", "-"],
    ["--regressions=0.1"],
    ["-n", "2", "--max-count", "3", "--since", "2 weeks ago", "--until=now"],
    ["--step", "last", "--first-parent", "-C", ".", "--repo", "..", "main..exp/a"],
    ["-m", "loss", "--", "--all", "-n"],
    ["-", "--format=csv"],
    ["--since", "--all"],
])
def test_plain_arguments_are_read_as_click_reads_them(args: list[str]) -> None:
    found = history_arguments(args)
    assert found is not None
    assert found == history.make_context("history", list(args)).params


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--bogus"], ["-mloss"], ["-n", "x"], ["-n", "-1"], ["-n=2"],
    ["--format", "xml"], ["--all=yes"], ["--step"], ["-m"], ["-C", ""],
])
def test_anything_else_is_left_to_click(args: list[str]) -> None:
    assert history_arguments(args) is None


@pytest.mark.parametrize("args", [
    ["-m", "loss", "--all"],
    ["--all", "--metric=loss,accuracy", "--regressions", "--format", "markdown"],
    ["-m", "loss", "-n", "2", "--since", iso(4), "--format=json", "--all"],
    ["-m", "loss", "exp/a", "--first-parent", "--format", "csv"],
    ["-m", "nope", "--all"],
    ["-m", "loss", "--", "no-such-branch"],
])
def test_the_fast_path_prints_what_click_prints(twoexp: Path, args: list[str]) -> None:
    # `gitlog --debug history ...` goes through click (the fast path reads `history ...`)
    through_click = run_cli("--debug", "history", *args, cwd=twoexp)
    fast = run_cli("history", *args, cwd=twoexp)
    assert (fast.returncode, fast.stdout, fast.stderr) == \
        (through_click.returncode, through_click.stdout, through_click.stderr)
    assert fast.stdout or fast.stderr.startswith("Error: ")


def test_click_still_answers_help_and_bad_options(twoexp: Path) -> None:
    proc = run_cli("history", "--help", cwd=twoexp)
    assert proc.returncode == 0 and "Example: gitlog history" in proc.stdout
    proc = run_cli("history", "-m", "loss", "--bogus", cwd=twoexp)
    assert proc.returncode == 2 and "No such option '--bogus'" in proc.stderr
    proc = run_cli("history", "-m", "loss", "-n", "x", cwd=twoexp)
    assert proc.returncode == 2 and "'x' is not a valid integer" in proc.stderr
    proc = run_cli("history", "-C", str(twoexp / "train.py"), cwd=twoexp)
    assert (proc.returncode, proc.stderr) == (1, f"Error: not a folder: {twoexp / 'train.py'}\n"
                                              "hint: pass the repository's folder, or a folder "
                                              "inside it\n")  # was click's usage error, exit 2


def test_history_runs_without_loading_click(twoexp: Path) -> None:
    code = ("import sys\nfrom gitlog.cli import main\n"
            "try:\n    main(['history', '-m', 'loss', '--all', '--format', 'json'])\n"
            "except SystemExit as exc:\n    code = exc.code\n"
            "sys.stderr.write(repr((code, 'click' in sys.modules,"
            " 'dataclasses' in sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=twoexp, capture_output=True,
                          text=True, timeout=120)
    assert proc.stderr == repr((0, False, False))
    assert len(json.loads(proc.stdout)) == 6

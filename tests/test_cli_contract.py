"""The CLI's contract, swept over every read-only command: outside a repository, in an
empty one, in one with no runs, with an unknown revision, in each format, with ``-C`` to
a missing folder or a file, with stdout closed or its reader gone. Errors are ``Error: ...`` (plus
``hint: ...``) on stderr, exit 1 or 2, nothing on stdout; JSON parses, CSV has its
header even with zero rows; never a traceback or exit 3."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_cli
from tests.test_history import two_experiments

# name -> (arguments in the repository with runs, whether it takes --format json|csv,
# whether it takes a REV)
COMMANDS: dict[str, tuple[list[str], bool, bool]] = {
    "ls": ([], True, False),
    "show": (["a"], True, True),
    "recover": (["--dry-run"], True, False),
    "exp list": ([], True, False),
    "history": (["-m", "loss", "a"], True, True),
    "compare": (["a", "b"], True, True),
    "best": (["-m", "loss", "a"], True, True),
    "blame": (["-m", "loss", "a"], True, True),
    "logs": (["a"], True, True),
    "artifacts": (["a"], True, True),
    "alerts check": (["a"], True, True),
    "index": ([], False, False),
    "hooks status": ([], False, False),
}


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("contract")
    proj = root / "proj"
    two_experiments(proj)
    empty = root / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    norun = root / "norun"
    norun.mkdir()
    subprocess.run(["git", "init", "-q", str(norun)], check=True)
    (norun / "a.txt").write_text("a\n")
    subprocess.run(["git", "-C", str(norun), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(norun), "-c", "user.name=A", "-c", "user.email=a@b",
                    "commit", "-q", "-m", "a"], check=True)
    outside = root / "outside"
    outside.mkdir()
    return {"proj": proj, "empty": empty, "norun": norun, "outside": outside,
            "missing": root / "missing", "file": norun / "a.txt"}


def _cli(args: list[str], cwd: Path, stdout: str = "pipe") -> subprocess.CompletedProcess:
    """gitlog with stdout piped, closed (``>&-``) or a pipe whose reader is gone."""
    if stdout == "pipe":
        return run_cli(*args, cwd=cwd)
    cmd = [sys.executable, "-m", "gitlog", *args]
    if stdout == "closed":
        done = subprocess.run(cmd, cwd=cwd, stdout=None, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: os.close(1), timeout=120)
        done.stdout = ""
        return done
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    proc.stdout.close()  # as `| head -0` would
    _, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, "", err)


def _no_defect(proc: subprocess.CompletedProcess, label: str) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, label
    assert "unexpected" not in proc.stderr, label
    assert proc.returncode in (0, 1, 2), (label, proc.returncode, proc.stderr)


def _clear_error(proc: subprocess.CompletedProcess, label: str, first: str = "Error: ") -> None:
    _no_defect(proc, label)
    assert proc.returncode == 1, (label, proc.stderr)
    assert proc.stdout == "", label
    lines = proc.stderr.splitlines()
    assert lines[-2 if lines[-1].startswith("hint: ") else -1].startswith(first), (label, lines)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_keeps_the_cli_contract(name: str, places: dict[str, Path]) -> None:
    args, formats, takes_rev = COMMANDS[name]
    words = name.split()
    proj = places["proj"]

    proc = _cli(words + args, proj)
    _no_defect(proc, "proj")
    ok = proc.returncode == 0
    for fmt in ["json", "csv"] if formats else []:  # table: above; markdown: as table
        proc = _cli(words + args + ["--format", fmt], proj)
        _no_defect(proc, fmt)
        assert (proc.returncode == 0) == ok, (fmt, proc.stderr)
        if not ok:
            assert proc.stdout == "", fmt
        elif fmt == "json":
            json.loads(proc.stdout)
        elif fmt == "csv":
            assert next(csv.reader(io.StringIO(proc.stdout))), "a CSV header"

    _clear_error(_cli(words + args, places["outside"]), "outside", "Error: not a git repository: ")
    _clear_error(_cli(words + args + ["-C", str(places["missing"])], places["outside"]),
                 "-C missing", "Error: no such folder: ")
    # a file was click's usage error, exit 2 ("Directory '...' is a file")
    _clear_error(_cli(words + args + ["-C", str(places["file"])], places["outside"]),
                 "-C file", f"Error: not a folder: {places['file']}")
    if takes_rev:
        _clear_error(_cli(words + ["-m", "loss"] * (name in ("history", "best", "blame"))
                          + ["nosuchexp"], proj), "unknown revision")

    for kind in ("empty", "norun"):  # no commit yet; commits but no run
        for fmt in ["json", "csv"] if formats else ["table"]:
            extra = ["--format", fmt] if formats else []
            proc = _cli(words + args + extra, places[kind])
            if proc.returncode:
                _clear_error(proc, f"{kind} {fmt}")
            elif fmt == "json":
                assert json.loads(proc.stdout) == [], (kind, proc.stdout)
            elif fmt == "csv":
                assert proc.stdout.count("\n") == 1 and "," in proc.stdout, (kind, proc.stdout)

    closed = _cli(words + args, proj, stdout="closed")
    _no_defect(closed, ">&-")
    assert closed.returncode == (0 if ok else 1), closed.stderr
    gone = _cli(words + args, proj, stdout="gone")
    _no_defect(gone, "reader gone")
    assert len(gone.stderr.splitlines()) <= (1 if ok else 2), gone.stderr


def test_recover_with_nothing_to_recover_still_writes_json_and_a_csv_header(
        places: dict[str, Path]) -> None:
    for fmt, expected in (("json", "[]\n"), ("csv", "run,experiment,action,status,commit,detail\n"),
                          ("table", "")):
        proc = run_cli("recover", "--format", fmt, cwd=places["norun"])
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            0, expected, "gitlog: nothing to recover\n"), fmt


def test_stdout_closed_is_output_going_nowhere_not_a_crash(repo: Path) -> None:
    script = "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"
    run = _cli(["run", "-e", "closed", "--", sys.executable, "-c", script], repo,
               stdout="closed")
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("to stderr\ngitlog: run "), run.stderr
    events = json.loads(run_cli("logs", "closed", "--format", "json", cwd=repo).stdout)
    assert sorted((e["message"], e["fields"]["stream"]) for e in events) == [
        ("to stderr", "stderr"), ("to stdout", "stdout")]  # two pipes: either may come first
    # the run was committed: nothing left behind for `gitlog recover`
    assert run_cli("recover", "--dry-run", cwd=repo).stderr == "gitlog: nothing to recover\n"
    assert git(repo, "status", "--porcelain") == ""
    show = _cli(["show", "closed"], repo, stdout="closed")
    assert (show.returncode, show.stderr) == (0, "")


def test_a_stdout_that_cannot_encode_the_output_is_one_clear_error(
        places: dict[str, Path]) -> None:
    proc = run_cli("history", "-m", "loss", "a", cwd=places["proj"],
                   env={"PYTHONIOENCODING": "ascii"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", "Error: stdout's encoding, ascii, cannot write '\\u2588\\u2584'\n"
               "hint: use a UTF-8 locale (LANG=C.UTF-8) or set PYTHONIOENCODING=utf-8\n")
    csv_out = run_cli("history", "-m", "loss", "a", "--format", "csv", cwd=places["proj"],
                      env={"PYTHONIOENCODING": "ascii"})
    assert (csv_out.returncode, csv_out.stderr) == (0, "")  # nothing but ASCII to write


@pytest.mark.parametrize("args, error, command", [
    (["history", "--metrc", "loss"], "No such option '--metrc'. Did you mean '--metric'?",
     "gitlog history"),
    (["ls", "--format", "xml"],
     "Invalid value for '--format': 'xml' is not one of 'table', 'json', 'csv'.", "gitlog ls"),
    (["histroy"], "No such command 'histroy'. Did you mean 'history'?", "gitlog"),
    (["exp", "nwe", "x"], "No such command 'nwe'. Did you mean 'new'?", "gitlog exp"),
    (["run", "-e", "a"], "Missing argument 'COMMAND...'.", "gitlog run"),
    # an option without its value: click's parser gives that error no command, and the
    # hint named 'gitlog --help', which lists no option of the command
    (["history", "-m", "loss", "-n"], "Option '-n' requires an argument.", "gitlog history"),
    (["ls", "--format"], "Option '--format' requires an argument.", "gitlog ls"),
    (["--debug", "exp", "new", "x", "--from"], "Option '--from' requires an argument.",
     "gitlog exp new"),
    (["hooks", "install", "-C", ".", "--hook"], "Option '--hook' requires an argument.",
     "gitlog hooks install"),
])
def test_usage_errors_are_gitlogs_error_and_hint_lines(tmp_path: Path, args: list[str],
                                                       error: str, command: str) -> None:
    # click printed 'Usage: ...', "Try '... --help' for help.", a blank line, then the
    # error: four lines for one mistake, unlike every other error of gitlog's
    proc = run_cli(*args, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == [f"Error: {error}",
                                        f"hint: {command} --help shows the usage"]

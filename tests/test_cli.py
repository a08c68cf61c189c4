"""The CLI in subprocesses: init, run, ls, show, errors."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_cli

CHILD = """
import sys, gitlog
with gitlog.start(params={"batch": 8}) as run:
    for i in range(3):
        run.log_metric("loss", 1.0 / (i + 1))
    print("trained", flush=True)
    print("a warning line", file=sys.stderr, flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""


def test_init_is_idempotent_and_keeps_comments(repo: Path) -> None:
    first = run_cli("init", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    config = (repo / ".gitlog.yaml").read_text()
    assert config.startswith("# gitlog configuration")
    assert (repo / ".dvc").is_dir()
    dvc_yaml = (repo / "dvc.yaml").read_text()
    assert ".gitlog/metrics.json" in dvc_yaml and ".gitlog/params.yaml" in dvc_yaml
    (repo / ".gitlog.yaml").write_text(config + "# my own note\n")
    second = run_cli("init", cwd=repo)
    assert second.returncode == 0 and "already set up" in second.stderr
    assert (repo / ".gitlog.yaml").read_text().endswith("# my own note\n")
    assert (repo / "dvc.yaml").read_text() == dvc_yaml


def test_init_keeps_existing_dvc_yaml_stages(repo: Path) -> None:
    (repo / "dvc.yaml").write_text("# pipeline\nstages:\n  train:\n    cmd: python train.py\n")
    assert run_cli("init", "--no-dvc", cwd=repo).returncode == 0
    text = (repo / "dvc.yaml").read_text()
    assert text.startswith("# pipeline\nstages:\n  train:\n    cmd: python train.py\n")
    assert "- .gitlog/metrics.json" in text


def test_run_attaches_child_captures_output_and_resources(repo: Path) -> None:
    (repo / "child.py").write_text(CHILD)
    proc = run_cli("run", "-e", "cli", "-p", "lr=0.1", "-p", "opt.name=adam", "--",
                   sys.executable, "child.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "trained\n"
    assert "a warning line" in proc.stderr
    shown = json.loads(run_cli("show", "cli", "--format", "json", cwd=repo).stdout)
    assert shown["params"] == {"batch": 8, "lr": 0.1, "opt": {"name": "adam"}}
    assert shown["metrics"] == {"loss": 1 / 3, "step": 2}
    run = shown["run"]
    assert run["status"] == "completed" and run["exit_code"] == 0
    assert run["duration_s"] > 0 and run["cpu_time_s"] > 0 and run["peak_memory_mb"] > 1
    assert "child.py" in run["command"]
    events = git(repo, "show", "exp/cli:.gitlog/events.jsonl").splitlines()
    captured = [json.loads(e) for e in events]
    assert {"message": captured[0]["message"], "stream": captured[0]["fields"]["stream"]} == \
        {"message": "trained", "stream": "stdout"} or \
        any(e["message"] == "trained" and e["fields"]["stream"] == "stdout" for e in captured)
    assert any(e["message"] == "a warning line" and e["fields"]["stream"] == "stderr"
               for e in captured)


PROGRESS = """
import sys
for i in range(2000):
    sys.stderr.write(f"\\r{i:>5} |{'#' * (i % 40):<40}|")
    sys.stderr.flush()
sys.stderr.write("\\n")
print("é" * 5000 + "\\rdone")
print("x" * 5000)
"""


def test_run_keeps_a_progress_bar_s_last_redraw_only(repo: Path) -> None:
    # a line redrawn with carriage returns and never ended was kept whole, copied and
    # searched at every read: quadratic CPU in gitlog for a run-long progress bar
    from gitlog.procrun import MAX_LINE, _unfinished

    (repo / "bar.py").write_text(PROGRESS)
    proc = run_cli("run", "-e", "bar", "--", sys.executable, "bar.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(e) for e in
              git(repo, "show", "exp/bar:.gitlog/events.jsonl").splitlines()]
    assert sorted((e["fields"]["stream"], e["message"]) for e in events) == [
        ("stderr", f" 1999 |{'#' * 39} |"), ("stdout", "done"),
        ("stdout", "x" * MAX_LINE + " [truncated]")]
    redraws = b"".join(b"\r%5d |" % i for i in range(10_000))
    assert _unfinished(redraws) == b" 9999 |"
    assert _unfinished(b"\rold\rnew\r\r") == b"new\r\r"
    assert _unfinished(b"y" * 100_000) == b"y" * (MAX_LINE * 4 + 4)


def test_run_events_are_in_time_order_across_the_command_and_gitlog(repo: Path) -> None:
    # the script's traceback event came first in `gitlog logs`, before the output lines
    # that led to it: gitlog and the script each wrote their own events at their finish
    (repo / ".gitlog.yaml").write_text("flush_interval: 60\n")
    (repo / "crash.py").write_text(
        "import sys, gitlog\nwith gitlog.start() as run:\n    run.log_metric('loss', 1)\n"
        "    print('epoch 0', flush=True)\n    print('diverging', file=sys.stderr, "
        "flush=True)\n    import time; time.sleep(0.5)\n    raise ValueError('boom')\n")
    assert run_cli("run", "-e", "crash", "--", sys.executable, "crash.py",
                   cwd=repo).returncode == 1
    events = json.loads(run_cli("logs", "crash", "--format", "json", cwd=repo).stdout)
    messages = [e["message"] for e in events]  # (stdout and stderr: read by two threads)
    assert (sorted(messages[:2]), messages[2]) == (["diverging", "epoch 0"], "ValueError: boom")
    assert events[-1]["message"] == "command exited with code 1: ValueError: boom"
    assert events[-1]["fields"] == {}  # a mapping always, as events.jsonl holds it (was null)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)


def test_run_failing_command_exits_with_its_code(repo: Path) -> None:
    (repo / "child.py").write_text(CHILD)
    proc = run_cli("run", "-e", "bad", "--", sys.executable, "child.py", "3", cwd=repo)
    assert proc.returncode == 3
    shown = json.loads(run_cli("show", "bad", "--format", "json", cwd=repo).stdout)
    assert shown["run"]["status"] == "failed" and shown["run"]["exit_code"] == 3
    assert shown["run"]["errors"] == 1


def test_run_unknown_command_is_one_clear_error(repo: Path) -> None:
    proc = run_cli("run", "-e", "x", "--", "no-such-program-xyz", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "Error: command not found: no-such-program-xyz"
    assert git(repo, "branch", "--list", "exp/*") == ""


def test_run_of_a_file_without_execute_bit_or_a_folder_says_so(repo: Path) -> None:
    # both said 'command not found' of a file or folder that is right there
    (repo / "train.sh").write_text("echo hi\n")
    (repo / "data").mkdir()
    proc = run_cli("run", "-e", "x", "--", "./train.sh", "--fast", cwd=repo)
    assert (proc.returncode, proc.stderr) == (1, "Error: not executable: ./train.sh\n"
                                              "hint: chmod +x ./train.sh, or run it as: "
                                              "sh ./train.sh --fast\n")
    proc = run_cli("run", "-e", "x", "--", "./data", cwd=repo)
    assert (proc.returncode, proc.stderr) == (1, "Error: a folder, not a program: ./data\n"
                                              "hint: name the program to run inside it\n")
    assert git(repo, "branch", "--list", "exp/*") == ""


def test_ls_and_show_formats_agree(repo: Path) -> None:
    (repo / "child.py").write_text(CHILD)
    for exp in ("a", "b"):
        assert run_cli("run", "-e", exp, "--", sys.executable, "child.py",
                       cwd=repo).returncode == 0
    table = run_cli("ls", cwd=repo).stdout
    assert "exp/a" in table and "exp/b" in table
    rows = json.loads(run_cli("ls", "--format", "json", cwd=repo).stdout)
    assert [(r["experiment"], r["runs"], r["status"], r["loss"]) for r in rows] == \
        [("a", 1, "completed", 1 / 3), ("b", 1, "completed", 1 / 3)]
    csv_rows = list(csv.DictReader(io.StringIO(run_cli("ls", "--format", "csv",
                                                       cwd=repo).stdout)))
    assert [(r["experiment"], r["runs"], float(r["loss"])) for r in csv_rows] == \
        [("a", "1", 1 / 3), ("b", "1", 1 / 3)]
    show_csv = run_cli("show", "a", "--format", "csv", cwd=repo).stdout
    assert "params,batch,8" in show_csv and "metrics,loss,0.3333333333333333" in show_csv


def test_ls_reads_key_metrics_under_their_aliases(repo: Path) -> None:
    """metrics.aliases makes train/loss the series 'loss' for history and best; ls and
    exp list showed a blank loss for a run that logged train/loss."""
    (repo / ".gitlog.yaml").write_text("metrics:\n  aliases: {loss: [train/loss]}\n")
    code = ("import gitlog\nwith gitlog.start(params={'lr': 0.1}) as run:\n"
            "    run.log_metric('{name}', 0.5)\n    run.log_metric('accuracy', 0.75)\n")
    for exp, name in (("renamed", "train/loss"), ("plain", "loss")):
        proc = run_cli("run", "-e", exp, "--", sys.executable, "-c",
                       code.replace("{name}", name), cwd=repo)
        assert proc.returncode == 0, proc.stderr
    rows = json.loads(run_cli("ls", "--format", "json", cwd=repo).stdout)
    assert [(r["experiment"], r["loss"], r["accuracy"]) for r in rows] == \
        [("plain", 0.5, 0.75), ("renamed", 0.5, 0.75)]
    rows = json.loads(run_cli("exp", "list", "--format", "json", cwd=repo).stdout)
    assert [(r["name"], r["loss"]) for r in rows] == [("plain", 0.5), ("renamed", 0.5)]
    table = run_cli("ls", cwd=repo).stdout.splitlines()
    assert table[0].split() == ["experiment", "branch", "runs", "last_run", "status", "loss",
                                "accuracy"]
    assert table[3].split()[-2:] == ["0.5", "0.75"]


def test_show_by_run_id_and_default(repo: Path) -> None:
    (repo / "child.py").write_text(CHILD)
    run_cli("run", "-e", "one", "--", sys.executable, "child.py", cwd=repo)
    shown = json.loads(run_cli("show", "--format", "json", cwd=repo).stdout)
    run_id = shown["run"]["run"]
    by_id = json.loads(run_cli("show", run_id, "--format", "json", cwd=repo).stdout)
    assert by_id["run"]["commit"] == shown["run"]["commit"]
    missing = run_cli("show", "nope", cwd=repo)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")
    assert "hint:" in missing.stderr


def test_not_a_repository(tmp_path: Path) -> None:
    proc = run_cli("ls", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].startswith("Error: not a git repository")
    assert "git init" in proc.stderr


def test_a_bare_repository_is_one_clear_error(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    for where, args in ((bare, ["ls"]), (bare, ["history", "-m", "loss", "--all"]),
                        (repo / ".git", ["show"])):
        proc = run_cli(*args, cwd=where)
        assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
        error, hint = proc.stderr.splitlines()
        assert error == f"Error: gitlog needs a working tree: {where} is a bare repository " \
                        "or inside a .git folder"
        assert hint.startswith("hint: clone it (git clone ") and "worktree add" in hint


def test_corrupt_config_names_line_and_column(repo: Path) -> None:
    (repo / ".gitlog.yaml").write_text("log_dir: .gitlog\nmetrics:\n  key: [loss\n")
    proc = run_cli("ls", cwd=repo)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("Error: invalid config ") and ".gitlog.yaml:" in first
    line, col = first.split(".gitlog.yaml:")[1].split(":")[:2]
    assert line.isdigit() and col.isdigit()
    (repo / ".gitlog.yaml").write_text("flush_interval: -1\n")
    proc = run_cli("ls", cwd=repo)
    assert proc.returncode == 1 and "flush_interval" in proc.stderr


def test_help_lists_every_command_with_an_example() -> None:
    from gitlog.cli import COMMANDS
    from gitlog.cli._group import cli

    proc = run_cli("--help", cwd=Path.cwd())
    for name in COMMANDS:
        assert name in proc.stdout
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert "Example:" in (command.help or ""), name


def test_every_command_is_in_the_readme() -> None:
    from gitlog.cli import COMMANDS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in COMMANDS:
        assert f"gitlog {name}" in readme, name


def test_run_killed_by_a_signal_is_recorded_killed(repo: Path) -> None:
    (repo / "die.py").write_text(
        "import os, signal, gitlog\n"
        "run = gitlog.start()\n"
        "run.log_metric('loss', 0.25)\n"
        "run.flush()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n")
    proc = run_cli("run", "-e", "sig", "--", sys.executable, "die.py", cwd=repo)
    assert proc.returncode == 128 + 15
    shown = json.loads(run_cli("show", "sig", "--format", "json", cwd=repo).stdout)
    assert shown["run"]["status"] == "killed"
    assert shown["metrics"]["loss"] == 0.25
    # the exit code the shell saw (128 + 15) and the signal, alike in every format
    assert (shown["run"]["exit_code"], shown["run"]["signal"]) == (143, "SIGTERM")
    csv_rows = run_cli("show", "sig", "--format", "csv", cwd=repo).stdout.splitlines()
    assert [r for r in csv_rows if r.startswith(("run,exit_code", "run,signal"))] == [
        "run,exit_code,143", "run,signal,SIGTERM"]
    table = run_cli("show", "sig", cwd=repo).stdout.splitlines()
    assert [r.split() for r in table if r.startswith(("exit_code", "signal"))] == [
        ["exit_code", "143"], ["signal", "SIGTERM"]]


def test_run_with_c_runs_the_command_in_that_folder(repo: Path, tmp_path: Path) -> None:
    # the command ran in the caller's folder (python: can't open file 'train.py'), while
    # the run recorded the code of the repository -C named
    (repo / "where.py").write_text("import os\nprint(os.getcwd())\n")
    (repo / "where.sh").write_text("#!/bin/sh\npwd\n")
    (repo / "where.sh").chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for before in (True, False):
        for command in ([sys.executable, "where.py"], ["./where.sh"]):
            c = ["-C", str(repo)]
            args = [*c, "run", "-e", "c", "--", *command] if before else \
                ["run", *c, "-e", "c", "--", *command]
            done = run_cli(*args, cwd=elsewhere)
            assert (done.returncode, done.stdout) == (0, f"{repo}\n"), done.stderr


def test_c_before_the_command_as_in_git(repo: Path, tmp_path: Path) -> None:
    (repo / "child.py").write_text(CHILD)
    assert run_cli("run", "-e", "a", "--", sys.executable, "child.py", cwd=repo).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in (["history", "-m", "loss", "a", "--format", "csv"], ["ls"],
                    ["exp", "list", "--format", "json"], ["hooks", "status"]):
        after = run_cli(*command, "-C", str(repo), cwd=elsewhere)
        assert after.returncode == 0, after.stderr
        for before in (["-C", str(repo)], [f"-C{repo}"], [f"--repo={repo}"]):
            proc = run_cli(*before, *command, cwd=elsewhere)
            assert (proc.returncode, proc.stdout) == (0, after.stdout), (before, command)


def test_c_before_gitlog_options_or_no_command(repo: Path, tmp_path: Path) -> None:
    (repo / "child.py").write_text(CHILD)
    assert run_cli("run", "-e", "a", "--", sys.executable, "child.py", cwd=repo).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = run_cli("-C", str(repo), "--debug", "ls", "--format", "json", cwd=elsewhere)
    assert shown.returncode == 0, shown.stderr
    assert [e["experiment"] for e in json.loads(shown.stdout)] == ["a"]
    for extra in ([], ["--help"]):  # as gitlog without -C: the usage
        proc = run_cli("-C", str(repo), *extra, cwd=elsewhere)
        alone = run_cli(*extra, cwd=elsewhere)
        assert "Usage: gitlog [OPTIONS] COMMAND" in alone.stdout + alone.stderr
        assert (proc.returncode, proc.stdout, proc.stderr) == \
            (alone.returncode, alone.stdout, alone.stderr)
    version = run_cli("-C", str(repo), "--version", cwd=elsewhere)
    assert version.stdout.startswith("gitlog "), version.stderr


def test_the_groups_of_subcommands_are_known_to_main() -> None:
    import click

    from gitlog.cli import COMMANDS, GROUPS
    from gitlog.cli._group import cli

    ctx = click.Context(cli)
    assert {name for name in COMMANDS
            if isinstance(cli.get_command(ctx, name), click.Group)} == GROUPS


def test_c_after_gitlog_options_and_before_a_group(repo: Path, tmp_path: Path) -> None:
    """git takes 'git --no-pager -C PATH log': 'gitlog --debug -C PATH ls' was a usage
    error (No such option '-C'), and so was 'gitlog -C PATH exp --help'."""
    (repo / "child.py").write_text(CHILD)
    assert run_cli("run", "-e", "a", "--", sys.executable, "child.py", cwd=repo).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["--debug", "-C", str(repo), "ls"], ["--debug", f"--repo={repo}", "--debug",
                                                     "exp", "list"]):
        proc = run_cli(*args, "--format", "json", cwd=elsewhere)
        assert proc.returncode == 0, proc.stderr
        assert [e.get("experiment", e.get("name")) for e in json.loads(proc.stdout)] == ["a"]
    for extra in (["--help"], []):  # a group with no subcommand: as without -C
        proc = run_cli("-C", str(repo), "exp", *extra, cwd=elsewhere)
        alone = run_cli("exp", *extra, cwd=elsewhere)
        assert "Usage: gitlog exp [OPTIONS] COMMAND" in alone.stdout + alone.stderr
        assert (proc.returncode, proc.stdout, proc.stderr) == \
            (alone.returncode, alone.stdout, alone.stderr)


TWO_TRAININGS = """
import subprocess, sys, gitlog
try:
    gitlog.start(params=[1])  # refused: leaves no run behind, nor blocks the next start
except gitlog.GitlogError:
    pass
worker = "import gitlog; r = gitlog.start(); r.log_metric('worker', 1); r.finish()"
for name, lr in (("a", 0.1), ("b", 0.01)):
    with gitlog.start(name, params={"lr": lr}) as run:
        for step in range(2):
            run.log_metric("loss", lr * (2 - step))
        subprocess.run([sys.executable, "-c", worker], check=True)  # another process
    print("trained", name, flush=True)
"""


def test_a_second_start_in_a_script_under_gitlog_run_is_an_error(repo: Path) -> None:
    """Two trainings one after the other, each 'with gitlog.start(...)', under one
    'gitlog run' merged into one run: the second's params overwrote the first's and its
    series began again at step 0 in the same file."""
    (repo / "two.py").write_text(TWO_TRAININGS)
    proc = run_cli("run", "-e", "two", "--", sys.executable, "two.py", cwd=repo)
    assert proc.returncode == 1
    assert proc.stdout == "trained a\n"
    assert "GitlogError: gitlog.start() was already called in this process, which " \
           "'gitlog run' started as run " in proc.stderr
    assert "hint: to log each gitlog.start() as its own run, run the script without " \
           "'gitlog run' (python train.py)" in proc.stderr
    shown = json.loads(run_cli("show", "two", "--format", "json", cwd=repo).stdout)
    assert shown["run"]["status"] == "failed"
    assert shown["params"] == {"lr": 0.1}
    assert shown["metrics"] == {"loss": 0.1, "step": 1, "worker": 1}
    series = git(repo, "show", "exp/two:.gitlog/metrics/loss.tsv").splitlines()
    assert [line.split("\t")[1:] for line in series[1:]] == [["0", "0.2"], ["1", "0.1"]]


def test_an_unexpected_error_gives_the_command_line_that_shows_its_traceback(
        monkeypatch, capsys) -> None:
    """The exit-3 message said 're-run with --debug'; a user who added it after the
    command (gitlog history -m loss --debug) got 'No such option', exit 2: --debug is
    gitlog's, before the command. The message now gives the whole command line to run."""
    import gitlog.cli as cli

    def broken(args: list[str]) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_run", broken)
    with pytest.raises(SystemExit) as exited:
        cli.main(["-C", "my proj", "history", "-m", "loss"])
    assert exited.value.code == 3
    assert capsys.readouterr().err == (
        "Error: unexpected RuntimeError: boom (re-run as gitlog --debug -C 'my proj' "
        "history -m loss for the traceback, and please report it)\n")
    with pytest.raises(RuntimeError, match="boom"):  # that command line shows it
        cli.main(["--debug", "-C", "my proj", "history", "-m", "loss"])


@pytest.mark.parametrize(("line", "missing"), [
    ("#!/usr/bin/no-such-python", "/usr/bin/no-such-python"),
    ("#!/usr/bin/env no-such-python -u", "no-such-python")])
def test_run_of_a_script_whose_interpreter_is_missing_says_so(repo: Path, line: str,
                                                              missing: str) -> None:
    # it said 'No such file or directory: ./fit.py' of a file that is there, and
    # committed a failed run
    (repo / "fit.py").write_text(line + "\nprint('fit')\n")
    (repo / "fit.py").chmod(0o755)
    proc = run_cli("run", "-e", "x", "--", "./fit.py", "--fast", cwd=repo)
    assert (proc.returncode, proc.stderr) == (
        1, f"Error: its #! interpreter {missing} is not found: ./fit.py\n"
           "hint: fix the #! line of ./fit.py, or run it as: python ./fit.py --fast\n")
    assert git(repo, "branch", "--list", "exp/*") == ""


def test_run_with_a_param_name_ending_in_a_dot_is_one_error(repo: Path) -> None:
    proc = run_cli("run", "-e", "x", "-p", "lr.=0.1", "--", sys.executable, "-c", "pass",
                   cwd=repo)
    assert (proc.returncode, proc.stderr) == (
        1, "Error: invalid param name 'lr.': a dot with no name on one side\n"
           "hint: dots nest: write it like optimizer.lr\n")
    assert git(repo, "branch", "--list", "exp/*") == ""

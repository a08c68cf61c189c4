"""Ctrl-C while a command trains: ``gitlog run`` and ``gitlog bisect`` stop it, log it as
killed, and leave nothing running or checked out behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git, make_repo, run_cli, state_of

# Writes its pid to started.txt, then waits for the signal (a minute at most).
SLOW = """import os, sys, time
with open(sys.argv[1], "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(60)
"""


def _interrupted(args: list[str], cwd: Path, marker: Path, *, group: bool,
                 sig: int = signal.SIGINT) -> tuple[subprocess.CompletedProcess, int]:
    """Run gitlog ARGS, send it ``sig`` once the command wrote ``marker`` (the whole
    process group as a terminal's Ctrl-C does, or gitlog alone as ``kill -INT`` does);
    the finished process and the command's pid."""
    proc = subprocess.Popen([sys.executable, "-m", "gitlog", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    while not marker.exists() or not marker.read_text():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), \
        int(marker.read_text())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_ctrl_c_stops_the_command_of_gitlog_run(tmp_path: Path) -> None:
    # the command inherited SIGINT ignored: Ctrl-C left it training to the end
    repo = make_repo(tmp_path / "p", {"slow.py": SLOW})
    marker = tmp_path / "started.txt"
    proc, pid = _interrupted(["run", "-e", "x", "--", sys.executable, "slow.py", str(marker)],
                             repo, marker, group=True)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("gitlog: run ")
    assert proc.stderr.splitlines()[-1].split(": ")[2].startswith("killed -> ")
    assert _gone(pid)
    assert git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Status,valueonly)",
               "exp/x").strip() == "killed"


def test_sigterm_to_gitlog_run_stops_the_command_and_commits_the_run(tmp_path: Path) -> None:
    # `kill PID` or `timeout 1h gitlog run ...` killed gitlog alone: the run stayed
    # uncommitted and the command trained on without its output, or died of a broken pipe
    for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")):
        repo = make_repo(tmp_path / name, {"slow.py": SLOW})
        before = state_of(repo)
        marker = tmp_path / f"{name}.txt"
        proc, pid = _interrupted(["run", "-e", "x", "--", sys.executable, "slow.py",
                                  str(marker)], repo, marker, group=False, sig=sig)
        assert proc.returncode == 128 + sig, proc.stderr
        assert proc.stderr.splitlines()[-1].split(": ")[2].startswith("killed -> ")
        assert _gone(pid)
        assert git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Status,valueonly)",
                   "exp/x").strip() == "killed"
        assert not list((repo / ".git" / "gitlog" / "runs").iterdir())
        logged = run_cli("logs", "x", "--level", "warning", "--format", "json", cwd=repo)
        assert [(e["level"], e["message"]) for e in json.loads(logged.stdout)] == [
            ("warning", f"gitlog run got {name}; passed it on to the command"),
            ("error", f"command killed by signal {int(sig)}")]
        assert state_of(repo) == before


# Logs five points (buffered: the flush interval is a minute), then waits for the signal.
LOGGING = """import os, sys, time, gitlog
run = gitlog.start(flush_interval=60)
for step in range(5):
    run.log_metric("loss", 1.0 / (step + 1))
run.info("logged five")
with open(sys.argv[1], "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(60)
"""


def test_sigterm_keeps_what_the_script_logged_since_its_last_flush(tmp_path: Path) -> None:
    # the script died of the forwarded SIGTERM with its buffer unwritten: up to
    # flush_interval of points were lost from the committed run
    repo = make_repo(tmp_path / "p", {"train.py": LOGGING})
    marker = tmp_path / "started.txt"
    proc, pid = _interrupted(["run", "-e", "x", "--", sys.executable, "train.py",
                              str(marker)], repo, marker, group=False, sig=signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    rows = git(repo, "show", "exp/x:.gitlog/metrics/loss.tsv").splitlines()[1:]
    assert [row.split("\t")[1:] for row in rows] == [
        ["0", "1.0"], ["1", "0.5"], ["2", "0.3333333333333333"], ["3", "0.25"], ["4", "0.2"]]
    shown = json.loads(run_cli("show", "x", "--format", "json", cwd=repo).stdout)
    assert (shown["run"]["status"], shown["metrics"]["loss"]) == ("killed", 0.2)
    assert "logged five" in git(repo, "show", "exp/x:.gitlog/events.jsonl")
    # the script still died of the signal, as it would without gitlog
    assert (shown["run"]["exit_code"], shown["run"]["signal"]) == (143, "SIGTERM")


def test_sigterm_to_a_script_of_its_own_keeps_its_points_for_recover(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p", {"train.py": LOGGING})
    marker = tmp_path / "started.txt"
    proc = subprocess.Popen([sys.executable, "train.py", str(marker)], cwd=repo,
                            env={**os.environ, "GITLOG_EXPERIMENT": "solo"})
    while not marker.exists() or not marker.read_text():
        assert proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    assert run_cli("recover", cwd=repo).returncode == 0
    rows = git(repo, "show", "exp/solo:.gitlog/metrics/loss.tsv").splitlines()[1:]
    assert [row.split("\t")[1] for row in rows] == ["0", "1", "2", "3", "4"]


# A sweep's trial: a worker thread starts the run, logs (buffered), and waits; the main
# thread, which never started a run, waits for it.
IN_A_THREAD = """import os, sys, threading, time, gitlog
def trial():
    run = gitlog.start("trial", flush_interval=60)
    for step in range(3):
        run.log_metric("loss", 1.0 / (step + 1))
    with open(sys.argv[1], "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(60)
worker = threading.Thread(target=trial)
worker.start()
worker.join()
"""


def test_sigterm_keeps_what_a_run_of_a_worker_thread_logged(tmp_path: Path) -> None:
    # only the main thread could set the handler: the process died at once, and the
    # points the trial's run buffered were lost
    repo = make_repo(tmp_path / "p", {"train.py": IN_A_THREAD})
    for sig in (signal.SIGTERM, signal.SIGHUP):
        marker = tmp_path / f"started-{sig}.txt"
        proc = subprocess.Popen([sys.executable, "train.py", str(marker)], cwd=repo)
        while not marker.exists() or not marker.read_text():
            assert proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == -sig  # it still dies of the signal
        assert run_cli("recover", cwd=repo).returncode == 0
        rows = git(repo, "show", "exp/trial:.gitlog/metrics/loss.tsv").splitlines()[1:]
        assert [row.split("\t")[1:] for row in rows] == [
            ["0", "1.0"], ["1", "0.5"], ["2", "0.3333333333333333"]]
        assert git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Status,valueonly)",
                   "exp/trial").strip() == "killed"


def test_sigterm_ends_a_process_with_no_live_run_as_without_gitlog(tmp_path: Path) -> None:
    # gitlog's handler is set at import (a worker thread's run could not set it): with
    # no run live, and after one finished, the signal ends the process as before
    marker = tmp_path / "started.txt"
    code = ("import sys, time, gitlog\nwith gitlog.start('done'):\n    pass\n"
            "open(sys.argv[1], 'w').write('1')\ntime.sleep(60)\n")
    repo = make_repo(tmp_path / "p")
    proc = subprocess.Popen([sys.executable, "-c", code, str(marker)], cwd=repo)
    while not marker.exists() or not marker.read_text():
        assert proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    assert not list((repo / ".git/gitlog/runs").iterdir())


# A handler set after gitlog's that chains to the one it found (gitlog's), as frameworks
# do: it does its own part, then calls gitlog's.
CHAINED = """import os, signal, gitlog
found = signal.getsignal(signal.SIGTERM)
def mine(signum, frame):
    print("my part done", flush=True)
    found(signum, frame)
    print("went on after SIGTERM", flush=True)
signal.signal(signal.SIGTERM, mine)
run = gitlog.start("chained", flush_interval=60)
for step in range(100):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
    if step == 2:
        os.kill(os.getpid(), signal.SIGTERM)
"""


def test_a_handler_that_chains_to_gitlogs_gets_the_buffers_written_and_the_end(
        tmp_path: Path) -> None:
    """The handler it found, gitlog's, writes the buffers and ends the process there, as
    SIGTERM's default would: never a SIGTERM that the process survives."""
    repo = make_repo(tmp_path / "p", {"train.py": CHAINED})
    proc = subprocess.run([sys.executable, "train.py"], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (-signal.SIGTERM, "my part done\n"), \
        proc.stderr
    assert run_cli("recover", cwd=repo).returncode == 0
    rows = git(repo, "show", "exp/chained:.gitlog/metrics/loss.tsv").splitlines()[1:]
    assert [row.split("\t")[1] for row in rows] == ["0", "1", "2"]


FORKED = """import multiprocessing as mp, time, gitlog
def work(i):
    time.sleep(30)
if __name__ == "__main__":
    mp.set_start_method("fork")
    with gitlog.start("forked", flush_interval=60) as run:
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1))
        pool = mp.Pool(2)
        pool.map_async(work, range(2))
        time.sleep(0.5)
        pool.terminate()  # SIGTERM to each worker, a fork holding a copy of the buffer
        pool.join()
"""


def test_sigterm_to_forked_workers_writes_nothing_of_the_parents_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p", {"train.py": FORKED})
    done = subprocess.run([sys.executable, "train.py"], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = git(repo, "show", "exp/forked:.gitlog/metrics/loss.tsv").splitlines()[1:]
    assert [row.split("\t")[1:] for row in rows] == [
        ["0", "1.0"], ["1", "0.5"], ["2", "0.3333333333333333"]]


def test_nohup_gitlog_run_leaves_sighup_ignored_in_the_command(tmp_path: Path) -> None:
    # under nohup the command must not die when the terminal closes
    hup = "import signal\nprint(signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)\n"
    repo = make_repo(tmp_path / "p", {"hup.py": hup})
    proc = subprocess.run(["nohup", sys.executable, "-m", "gitlog", "run", "-e", "x", "--",
                           sys.executable, "hup.py"], cwd=repo, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    assert (proc.returncode, proc.stdout) == (0, "True\n"), proc.stderr


def test_ctrl_c_stops_bisect_and_its_step(tmp_path: Path) -> None:
    # gitlog exited at once while git bisect run and the step's command went on running
    # in the temporary worktree it had removed
    marker_name = "started.txt"
    for group in (True, False):
        repo = make_repo(tmp_path / f"p{group}", {"train.py": SLOW})
        first = git(repo, "rev-parse", "HEAD").strip()
        for n in range(3):
            (repo / "notes.txt").write_text(f"{n}\n")
            git(repo, "add", "notes.txt")
            git(repo, "commit", "-qm", f"v{n + 2}")
        before = state_of(repo)
        marker = tmp_path / f"{group}-{marker_name}"
        proc, pid = _interrupted(["bisect", "-m", "loss", "--threshold", "1", "--good", first,
                                  "--bad", "main", "--", sys.executable, "train.py",
                                  str(marker)], repo, marker, group=group)
        assert (proc.returncode, proc.stdout, proc.stderr.splitlines()[-1]) == \
            (130, "", "Interrupted.")
        assert _gone(pid)
        assert state_of(repo) == before
        assert len(git(repo, "worktree", "list").splitlines()) == 1
        assert git(repo, "for-each-ref", "refs/bisect").strip() == ""
        assert git(repo, "log", "-1", "--format=%(trailers:key=Gitlog-Status,valueonly)",
                   "exp/bisect").strip() == "killed"

"""The progress line on stderr: on a terminal only, after a delay, cleared when done."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runrepo import Builder

RUNS = 2100  # history reports every 2,048 commits walked, the index every 1,000


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = Builder()
    parent = b.commit("main", {"train.py": "x\n"})
    for k in range(RUNS):
        parent = b.run("a", {"loss": 1 / (k + 1)}, parents=[parent], run_id=f"r{k}")
    repo = tmp_path_factory.mktemp("progress") / "p"
    b.write(repo)
    return repo


def gitlog(repo: Path, *args: str, terminal: bool, delay: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of gitlog, its stderr a terminal (a pty) or a pipe."""
    env = {**os.environ, "GITLOG_PROGRESS_DELAY": delay}
    cmd = [sys.executable, "-m", "gitlog", *args]
    if not terminal:
        proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
        return proc.returncode, proc.stdout, proc.stderr
    main, side = pty.openpty()
    with subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE,
                          stderr=side) as proc:
        os.close(side)
        err = b""
        while True:
            try:
                chunk = os.read(main, 1 << 16)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            err += chunk
        os.close(main)
        assert proc.stdout
        out = proc.stdout.read().decode()
    return proc.returncode, out, err.decode().replace("\r\n", "\n")


def test_index_and_history_show_progress_on_a_terminal_only(many_runs: Path) -> None:
    code, _, err = gitlog(many_runs, "index", "--rebuild", terminal=True, delay="0")
    assert code == 0
    lines = err.split("\r\x1b[K")  # each update overwrites the line before
    assert lines[:3] == ["", "gitlog: indexing runs: walking 1000 commits",
                         "gitlog: indexing runs: walking 2000 commits"]
    assert lines[3].startswith(f"rebuilt {many_runs}/.git/gitlog/index.sqlite: {RUNS} runs")
    (many_runs / ".git" / "gitlog" / "index.sqlite").unlink()
    code, out, err = gitlog(many_runs, "history", "-m", "loss", "-n", "1", "a",
                            "--format", "csv", terminal=True, delay="0")
    assert code == 0
    assert err == "\r\x1b[Kgitlog: indexing runs: walking 2048 commits\r\x1b[K"
    assert out.splitlines()[1].split(",")[2:5] == ["a", "a: run r2099", str(1 / RUNS)]
    for args in (["index", "--rebuild"], ["history", "-m", "loss", "-n", "1", "a"]):
        code, _, err = gitlog(many_runs, *args, terminal=False, delay="0")
        assert code == 0 and "walking" not in err and "\x1b" not in err
    code, _, err = gitlog(many_runs, "index", "--rebuild", terminal=True, delay="60")
    assert code == 0 and err.startswith("rebuilt ")  # done before the delay: no line

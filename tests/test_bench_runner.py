"""bench/run_all.py: runs bench_*.py scripts and writes RESULTS.md, failures included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

RUN_ALL = ROOT / "bench" / "run_all.py"


def bench(folder: Path, name: str, code: str) -> None:
    (folder / f"bench_{name}.py").write_text(code)


def run_all(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN_ALL), "--dir", str(folder), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_results_hold_machine_sections_and_failures(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    bench(folder, "alpha", "print('### Alpha\\n\\n| a |\\n|---|\\n| 1 |')\n")
    bench(folder, "beta", "import sys\nprint('half a table')\n"
                          "sys.exit('beta broke: no repository')\n")
    proc = run_all(folder)
    assert proc.returncode == 1
    assert "failed: bench_beta.py" in proc.stderr
    text = (folder / "RESULTS.md").read_text()
    for field in ("| CPU |", "| cores |", "| memory |", "| OS |", "| Python |", "| git |",
                  "dvclive"):
        assert field in text
    assert text.index("### Alpha") < text.index("### bench_beta.py: FAILED")
    assert "beta broke: no repository" in text


def test_named_benchmarks_update_only_their_sections(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    bench(folder, "alpha", "print('### Alpha v1')\n")
    bench(folder, "beta", "print('### Beta v1')\n")
    assert run_all(folder).returncode == 0
    bench(folder, "alpha", "print('### Alpha v2')\n")
    bench(folder, "beta", "print('### Beta v2')\n")
    proc = run_all(folder, "beta")
    assert proc.returncode == 0, proc.stderr
    text = (folder / "RESULTS.md").read_text()
    assert "### Alpha v1" in text and "### Beta v2" in text
    assert "Beta v1" not in text and "Alpha v2" not in text
    assert text.index("### Alpha v1") < text.index("### Beta v2")


def test_unknown_benchmark_name_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    bench(folder, "alpha", "print('### Alpha')\n")
    proc = run_all(folder, "gamma")
    assert proc.returncode == 1
    assert "no benchmark 'gamma'" in proc.stderr and "alpha" in proc.stderr
    assert not (folder / "RESULTS.md").exists()


def test_benchmark_over_its_timeout_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    bench(folder, "slow", "import time, sys\nprint('starting', file=sys.stderr, flush=True)\n"
                          "time.sleep(30)\n")
    proc = run_all(folder, "--timeout", "1")
    assert proc.returncode == 1
    text = (folder / "RESULTS.md").read_text()
    assert "timed out after 1 s" in text and "starting" in text

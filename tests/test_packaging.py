"""The wheel carries hooks/ (executable) and templates/, and a non-editable install
finds them through gitlog.resources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT, make_repo

PROBE = """
import json, os, sys
import gitlog, gitlog.resources as r
from gitlog.hooks import install
shim = r.hooks_dir() / "gitlog-shim"
report = install(sys.argv[1])
print(json.dumps({
    "package": gitlog.__file__,
    "hooks": str(r.hooks_dir()),
    "shim_executable": os.access(shim, os.X_OK),
    "config_template": r.template("gitlog.yaml").is_file(),
    "demo_template": r.template("demo/train.py").is_file(),
    "installed": [h.state for h in report.hooks],
}))
"""


def test_wheel_ships_hooks_and_templates(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                            "--outdir", str(dist), str(ROOT)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("gitlog-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
    assert modes["gitlog/_data/hooks/gitlog-shim"] & 0o111 == 0o111
    assert "gitlog/_data/templates/gitlog.yaml" in modes
    assert "gitlog/_data/templates/demo/train.py" in modes
    assert "gitlog/_hook.py" in modes and not any(n.startswith("tests/") for n in modes)

    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          "--no-compile", "--target", str(target), str(wheel)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    repo = make_repo(tmp_path / "project")
    env = dict(os.environ, PYTHONPATH=str(target))
    probe = subprocess.run([sys.executable, "-c", PROBE, str(repo)], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert Path(found["package"]).is_relative_to(target)
    assert found["hooks"] == str(target / "gitlog" / "_data" / "hooks")
    assert found["shim_executable"] and found["config_template"] and found["demo_template"]
    assert set(found["installed"]) == {"installed"}
    shim = (repo / ".git" / "hooks" / "pre-commit").read_text()
    assert "gitlog-hook-shim: 1" in shim and "@GITLOG_PYTHON@" not in shim


def test_make_demo_passes_a_folder_with_a_blank_as_one_argument() -> None:
    def demo_line(*args: str) -> str:
        out = subprocess.run(["make", "-n", "demo", *args], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
        return [line for line in out.splitlines() if " demo" in line][-1]

    assert demo_line("DEMO_DIR=/tmp/my demo").endswith("/gitlog demo '/tmp/my demo'")
    assert demo_line().endswith("/gitlog demo ")

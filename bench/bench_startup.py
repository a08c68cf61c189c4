"""``gitlog --help`` start-up time vs ``python -c "import click"``.

    python bench/bench_startup.py [--quick]

Each command runs in a fresh process, the commands interleaved so that machine load hits
them alike; the figure is the median wall time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_ratio, fmt_time, median, pin_environment, table, verdict

RUNS = 5 if "--quick" in sys.argv else 21


def gitlog_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m gitlog``."""
    script = Path(sys.executable).parent / "gitlog"
    if script.exists():
        return [str(script)]
    found = shutil.which("gitlog")
    return [found] if found else [sys.executable, "-m", "gitlog"]


def wall(cmd: list[str], cwd: Path) -> float:
    t0 = perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return perf_counter() - t0


def main() -> None:
    commands = {
        "gitlog": gitlog_command() + ["--help"],
        "module": [sys.executable, "-m", "gitlog", "--help"],
        "click": [sys.executable, "-c", "import click"],
        "bare": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="gitlog-bench-") as tmp:
        (Path(tmp) / "home").mkdir()
        pin_environment(Path(tmp) / "home")
        os.environ.pop("PYTHONPROFILEIMPORTTIME", None)
        for cmd in commands.values():  # warm the OS caches once
            wall(cmd, Path(tmp))
        for _ in range(RUNS):
            for name, cmd in commands.items():
                times[name].append(wall(cmd, Path(tmp)))
    med = {name: median(values) for name, values in times.items()}
    click = med["click"]
    rows = [
        [f"`{Path(commands['gitlog'][0]).name} --help` (console script)", fmt_time(med["gitlog"]),
         fmt_ratio(med["gitlog"] / click)],
        ["`python -m gitlog --help`", fmt_time(med["module"]), fmt_ratio(med["module"] / click)],
        ['`python -c "import click"`', fmt_time(click), "1.00x"],
        ['`python -c "pass"` (the interpreter alone)', fmt_time(med["bare"]),
         fmt_ratio(med["bare"] / click)],
    ]
    ratio = med["gitlog"] / click
    intro = (f"Wall time of each command in a fresh process, median of {RUNS} interleaved "
             "runs. `gitlog --help` imports click and gitlog's command table only; each "
             "command's module loads when that command runs.")
    print("\n".join([
        "### `gitlog --help` start-up",
        "",
        intro,
        "",
        table(["command", "median", "vs import click"], rows),
        "",
        verdict(ratio <= 2, f"`gitlog --help` at most 2x `import click` ({fmt_ratio(ratio)})"),
    ]))


if __name__ == "__main__":
    main()

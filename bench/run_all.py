"""Run the benchmarks and rewrite bench/RESULTS.md.

    python bench/run_all.py                  # every bench/bench_*.py, in name order
    python bench/run_all.py logging commit   # only these (bench_logging.py, bench_commit.py);
                                             # the other sections of RESULTS.md are kept

Each benchmark runs in its own process with this interpreter and prints one markdown
section. A benchmark that fails or times out gets a section saying so, with the end of
its stderr; run_all then exits 1 after writing everything else.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 1800.0
PACKAGES = ("gitlog", "dvc", "dvclive", "mlflow", "prometheus_client", "click", "GitPython",
            "ruamel.yaml")
SECTION = re.compile(r"<!-- bench: (?P<name>\S+) -->\n(?P<body>.*?)<!-- /bench -->\n",
                     re.DOTALL)
TITLE = "# Benchmark results\n"


def find_benches(folder: Path, names: list[str]) -> list[Path]:
    """The bench_*.py files of ``folder``; ``names`` (``commit``, ``bench_commit``,
    ``bench_commit.py``) picks some of them."""
    every = sorted(folder.glob("bench_*.py"))
    if not names:
        return every
    by_name = {p.name: p for p in every}
    chosen = []
    for name in names:
        stem = Path(name).name.removesuffix(".py")
        key = (stem if stem.startswith("bench_") else f"bench_{stem}") + ".py"
        if key not in by_name:
            known = ", ".join(p.stem.removeprefix("bench_") for p in every) or "none"
            raise SystemExit(f"Error: no benchmark {name!r} in {folder} (known: {known})")
        chosen.append(by_name[key])
    return chosen


def compile_package(root: Path) -> None:
    """Write the bytecode caches of the package under test, as installing a wheel does;
    with PYTHONDONTWRITEBYTECODE an editable checkout would otherwise be compiled anew in
    every process the benchmarks start, and start-up figures would time the compiler."""
    import compileall

    folder = root / "gitlog"
    if folder.is_dir():
        compileall.compile_dir(str(folder), quiet=1)


def run_one(path: Path, timeout: float) -> tuple[bool, str, float]:
    """(ok, markdown section, seconds) for one benchmark script."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONWARNINGS="ignore")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, str(path)], cwd=path.parent.parent,
                              capture_output=True, text=True, env=env, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
            else (exc.stderr or "")
        return False, failed(path, f"timed out after {timeout:.0f} s", stderr), \
            time.monotonic() - started
    seconds = time.monotonic() - started
    body = proc.stdout.strip()
    if proc.returncode != 0:
        return False, failed(path, f"exit code {proc.returncode}", proc.stderr), seconds
    if not body.startswith("### "):
        return False, failed(path, "it printed no markdown section (a `### ` title first)",
                             proc.stderr + proc.stdout), seconds
    return True, body, seconds


def failed(path: Path, why: str, stderr: str, lines: int = 30) -> str:
    tail = "\n".join(stderr.rstrip().splitlines()[-lines:]) or "(no output on stderr)"
    return (f"### {path.name}: FAILED\n\n`{path.name}` failed: {why}. "
            f"The end of its stderr:\n\n```\n{tail}\n```")


def machine() -> list[tuple[str, str]]:
    cpu = _first(Path("/proc/cpuinfo"), "model name") or platform.processor() or "unknown"
    mem = _first(Path("/proc/meminfo"), "MemTotal")
    memory = f"{int(mem.split()[0]) / 2**20:.1f} GiB" if mem else "unknown"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()}" + (f" ({usable} usable)" if usable and usable != os.cpu_count()
                                   else "")
    os_name = _os_release() or platform.system()
    git = subprocess.run(["git", "--version"], capture_output=True, text=True,
                         check=False).stdout.strip()
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    return [
        ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", cpu),
        ("cores", cores),
        ("memory", memory),
        ("OS", f"{os_name} (kernel {platform.release()}, {platform.machine()})"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("git", git.removeprefix("git version ") or "not found"),
        ("packages", versions),
        ("load average", " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min)"
         if hasattr(os, "getloadavg") else "unknown"),
    ]


def _first(path: Path, key: str) -> str | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _os_release() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return None


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def header(run_names: list[str], kept: list[str], facts: list[tuple[str, str]]) -> str:
    intro = ("Written by `make bench` (`python bench/run_all.py`); each section is one "
             "`bench/bench_*.py`, printed by the script itself. Figures are medians; they "
             "depend on the machine below and on what else it was running (the load "
             "average when this update started is in the table).")
    lines = [TITLE, intro, "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts]
    lines.append("")
    if kept:
        lines.append(f"This update ran {', '.join(run_names)}; the sections of "
                     f"{', '.join(kept)} are kept from an earlier run (their own lines say "
                     "when).")
        lines.append("")
    return "\n".join(lines)


def read_sections(results: Path) -> dict[str, str]:
    if not results.exists():
        return {}
    return {m["name"]: m["body"] for m in SECTION.finditer(results.read_text())}


def write_results(results: Path, sections: dict[str, str], run_names: list[str],
                  facts: list[tuple[str, str]]) -> None:
    kept = [name for name in sorted(sections) if name not in run_names]
    parts = [header(run_names, kept, facts)]
    for name in sorted(sections):
        parts.append(f"<!-- bench: {name} -->\n{sections[name].strip()}\n\n<!-- /bench -->\n")
    tmp = results.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts))
    os.replace(tmp, results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--dir", type=Path, default=HERE, help="folder of bench_*.py")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: DIR/RESULTS.md)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help="seconds allowed per benchmark (default: %(default)s)")
    args = parser.parse_args(argv)
    results = args.output or args.dir / "RESULTS.md"
    benches = find_benches(args.dir, args.names)
    sections = read_sections(results) if args.names else {}
    # Drop sections of benchmarks that no longer exist.
    existing = {p.name for p in sorted(args.dir.glob("bench_*.py"))}
    sections = {k: v for k, v in sections.items() if k in existing}
    facts = machine()  # before the benchmarks: the load average they started under
    compile_package(args.dir.resolve().parent)
    failures = []
    for path in benches:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        ok, body, seconds = run_one(path, args.timeout)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        sections[path.name] = f"{body}\n\n_`{path.name}`, {stamp}, took {seconds:.0f} s._"
        print(f"  {'ok' if ok else 'FAILED'} in {seconds:.0f} s", file=sys.stderr, flush=True)
        if not ok:
            failures.append(path.name)
    write_results(results, sections, [p.name for p in benches], facts)
    print(f"wrote {results}", file=sys.stderr)
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Building repositories of run commits with known values, in one ``git fast-import``.

Run commits have the layout gitlog writes (``.gitlog/run.yaml``, ``metrics.json``,
``params.yaml``, optional ``metrics/NAME.tsv``) and, unless told otherwise, its trailers.
Dates are fixed (one minute apart, in the order commits are declared), so rows are exact.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE = 1_704_067_200  # 2024-01-01T00:00:00Z


def iso(n: int) -> str:
    """The ISO date of the n-th declared commit (as git prints %cI)."""
    import datetime as dt

    when = dt.datetime.fromtimestamp(BASE + 60 * n, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def utc(n: int) -> str:
    """The n-th declared commit's date as gitlog writes a run's time: UTC, with 'Z'."""
    return iso(n).replace("+00:00", "Z")


def _quoted(path: str) -> str:
    """A path as fast-import reads it: C-quoted when it holds a control character."""
    if path.isprintable() and not path.startswith('"'):
        return path
    inner = "".join("\\" + c if c in '"\\' else c if c.isprintable() else
                    "\\n" if c == "\n" else f"\\{ord(c):03o}" for c in path)
    return f'"{inner}"'


def _data(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return b"data %d\n" % len(raw) + raw + b"\n"


@dataclass
class Builder:
    """Declare commits, then ``write(path)``; marks resolve to shas afterwards."""

    log_dir: str = ".gitlog"
    stream: bytearray = field(default_factory=bytearray)
    count: int = 0
    sha: dict[int, str] = field(default_factory=dict)

    def commit(self, branch: str, files: dict[str, str | None] | None = None, *,
               message: str = "code", parents: list[int] = (),  # type: ignore[assignment]
               author: str = "Ada Trainer <ada@example.com>", at: int | None = None,
               tz: str = "+0000") -> int:
        """A commit on ``branch``, dated as the n-th declared commit (``at``: as another);
        ``tz``: the committer's offset (the same instant)."""
        self.count += 1
        mark = self.count
        when = BASE + 60 * (mark if at is None else at)
        out = self.stream
        out += f"commit refs/heads/{branch}\nmark :{mark}\n".encode()
        out += f"author {author} {when} {tz}\n".encode()
        out += f"committer {author} {when} {tz}\n".encode()
        out += _data(message)
        if parents:
            out += f"from :{parents[0]}\n".encode()
            for other in parents[1:]:
                out += f"merge :{other}\n".encode()
        for path, text in (files or {}).items():
            if text is None:
                out += f"D {_quoted(path)}\n".encode()
            else:
                out += f"M 100644 inline {_quoted(path)}\n".encode() + _data(text)
        out += b"\n"
        return mark

    def run(self, experiment: str, metrics: dict[str, Any] | str | None, *, parents: list[int],
            params: dict[str, Any] | None = None, code: dict[str, str | None] | None = None,
            run_id: str | None = None, status: str = "completed", trailers: bool = True,
            branch: str | None = None, subject: str | None = None,
            series: dict[str, list[tuple[int, float]]] | None = None,
            run_yaml: bool = True, at: int | None = None) -> int:
        """A run commit on ``exp/<experiment>`` (or ``branch``)."""
        rid = run_id or f"run-{experiment}-{self.count + 1}"
        files: dict[str, str | None] = dict(code or {})
        d = self.log_dir
        if run_yaml:
            files[f"{d}/run.yaml"] = (f"id: {rid}\nexperiment: {experiment}\nstatus: {status}\n"
                                      f"code_commit: null\ncommand: python train.py\n")
        if metrics is not None:
            files[f"{d}/metrics.json"] = metrics if isinstance(metrics, str) else \
                json.dumps(metrics, indent=2, sort_keys=True) + "\n"
        files[f"{d}/params.yaml"] = "".join(f"{k}: {v}\n" for k, v in (params or {}).items())
        for name, points in (series or {}).items():
            files[f"{d}/metrics/{name}.tsv"] = "timestamp\tstep\t" + name.rsplit("/", 1)[-1] + \
                "\n" + "".join(f"0.0\t{s}\t{v}\n" for s, v in points)
        message = subject or f"{experiment}: run {rid}"
        if trailers:
            message += (f"\n\nGitlog-Run: {rid}\nGitlog-Experiment: {experiment}\n"
                        f"Gitlog-Code: none\nGitlog-Status: {status}\n")
        return self.commit(branch or f"exp/{experiment}", files, message=message,
                           parents=parents, at=at)

    def write(self, path: Path) -> dict[int, str]:
        """Import into the repository at ``path`` (created if needed); marks -> shas."""
        path.mkdir(parents=True, exist_ok=True)
        if not (path / ".git").exists():
            subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", str(path)],
                           check=True)
        marks = path / ".git" / "builder-marks"
        subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks}"],
                       cwd=path, input=bytes(self.stream), check=True)
        for line in marks.read_text().splitlines():
            mark, sha = line.split()
            self.sha[int(mark[1:])] = sha
        marks.unlink()
        subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=False)
        return self.sha

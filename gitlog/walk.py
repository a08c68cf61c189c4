"""Walking run commits: one ``git log`` over the commits that touch the log directory.

A commit holds a run when it changes ``<log_dir>/run.yaml`` or ``<log_dir>/metrics.json``.
The walk gives, per commit, its rewritten parents (the nearest walked ancestors: the
previous run on each line of history), its date, author, subject and trailers, and the
blob ids of the two files; the metrics blobs (and run.yaml, only when a commit carries no
gitlog trailers) are then read through one ``git cat-file --batch``. Nothing here parses
YAML on the hot path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from .git import Repo

FORMAT = ("%x1e%H%x00%P%x00%ct%x00%cI%x00%an <%ae>%x00%S%x00%s%x00"
          "%(trailers:only,unfold,separator=%x1f)")
RUN_KEYS = ("id", "experiment", "status", "code_commit", "code_tree")
_INF = float("inf")


@dataclass(slots=True)
class Node:
    """One walked commit: its parents within the walk and the ref it was reached from."""

    commit: str
    parents: tuple[str, ...]
    source: str


@dataclass(slots=True)
class Facts:
    """What one commit holds, immutable per commit id (the index caches it)."""

    commit: str
    time: int
    date: str
    author: str
    subject: str
    has_run: bool
    run_id: str | None = None
    experiment: str | None = None
    status: str | None = None
    code_commit: str | None = None
    metrics_blob: str | None = None
    metrics_json: str | None = None  # metrics.json as committed (parsed on demand)
    error: str | None = None
    flat: dict[str, float] | None = field(default=None, repr=False, compare=False)

    @property
    def identity(self) -> str | None:
        """What makes two commits the same run (a merge or a rebase carries it along)."""
        if not self.has_run:
            return None
        if not self.run_id and not self.metrics_blob:
            return self.commit
        return f"{self.run_id or ''}:{self.metrics_blob or ''}"

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics: {'train/loss': 0.3}; non-finite values dropped."""
        if self.flat is None:
            self.flat = _metrics(self.metrics_json)[0] or {} if self.metrics_json else {}
        return self.flat


@dataclass(slots=True)
class Record:
    """The walk's raw facts about a commit, before its blobs are read."""

    node: Node
    time: int
    date: str
    author: str
    subject: str
    trailers: dict[str, str]
    files: dict[str, str]  # path -> new blob id ("" when deleted)


def log_paths(log_dir: str) -> list[str]:
    return [f"{log_dir}/run.yaml", f"{log_dir}/metrics.json"]


def walk(repo: Repo, log_dir: str, revs: list[str], *, first_parent: bool = False,
         no_walk: bool = False) -> Iterator[Record]:
    """Stream the commits of ``revs`` that touch the run files, newest first."""
    args = ["log", "--parents", "--full-history", "--source", "-z", "--raw", "--no-abbrev",
            "--no-renames", "--diff-merges=first-parent", f"--format={FORMAT}"]
    if first_parent:
        args.append("--first-parent")
    if no_walk:
        args.append("--no-walk=unsorted")
    args += ["--end-of-options", *revs, "--", *log_paths(log_dir)]
    proc = repo.popen(*args)
    assert proc.stdout and proc.stderr
    pending = b""
    try:
        while True:
            chunk = proc.stdout.read(1 << 16)
            if not chunk:
                break
            pending += chunk
            records = pending.split(b"\x1e")
            pending = records.pop()
            for raw in records:
                if raw:
                    yield _parse(raw)
        if pending:
            yield _parse(pending)
    finally:
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait()
    if code != 0:
        from .errors import GitCommandError
        raise GitCommandError(["log"], code, err.decode(errors="replace"))


def _parse(raw: bytes) -> Record:
    parts = raw.decode("utf-8", "surrogateescape").split("\0")
    commit, parents, ct, ci, author, source, subject, trailers = parts[:8]
    files: dict[str, str] = {}
    rest = parts[8:]
    for i in range(len(rest) - 1):
        item = rest[i]
        if item[:2] == "\n:" or item[:1] == ":":
            meta = item.split()
            files[rest[i + 1]] = "" if meta[-1] == "D" else meta[3]
    tags: dict[str, str] = {}
    if trailers:
        for line in trailers.split("\x1f"):
            key, sep, value = line.partition(":")
            if sep and key.startswith("Gitlog-"):
                tags[key] = value.strip()
    return Record(Node(commit, tuple(parents.split()), source), int(ct or 0), ci,
                  _text(author), _text(subject), tags, files)


def _text(value: str) -> str:
    """Undo surrogateescape for display: invalid UTF-8 shows as U+FFFD."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def parse_run_yaml(data: bytes) -> dict[str, Any]:
    """The few top-level scalars of run.yaml gitlog needs, without a YAML parser."""
    out: dict[str, Any] = {}
    for line in data.split(b"\n"):
        key, sep, value = line.partition(b":")
        if not sep or line[:1] in b" \t-#":
            continue
        name = key.decode("utf-8", "replace")
        if name not in RUN_KEYS:
            continue
        text = value.strip().decode("utf-8", "replace")
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]
        out[name] = None if text in ("", "null", "~") else text
    return out


def flat_numbers(tree: Any, prefix: str = "", out: dict[str, float] | None = None) -> \
        dict[str, float]:
    """metrics.json -> {'train/loss': 0.3, ...}: finite-or-not numbers only, bools dropped."""
    out = {} if out is None else out
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat_numbers(value, name + "/", out)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def _metrics(data: bytes | str) -> tuple[dict[str, float] | None, str | None]:
    """(flat metrics, error) from a metrics.json blob; non-finite values are dropped."""
    try:
        tree = json.loads(data)
    except ValueError as exc:
        return None, f"is not valid JSON ({exc})"
    if not isinstance(tree, dict):
        return None, f"holds a JSON {type(tree).__name__}, not an object"
    flat = flat_numbers(tree)
    for key in [k for k, v in flat.items() if v != v or v in (_INF, -_INF)]:
        flat.pop(key)
    return flat, None


def describe(repo: Repo, log_dir: str, records: list[Record]) -> list[Facts]:
    """Facts for walked commits: reads their metrics (and run.yaml where needed) in one go."""
    run_path, metrics_path = log_paths(log_dir)
    specs: list[str] = []
    wants: list[tuple[int, int]] = []  # per record: index of metrics spec, of run.yaml spec
    for rec in records:
        m_blob = rec.files.get(metrics_path)
        m = -1
        if m_blob != "":
            specs.append(m_blob or f"{rec.node.commit}:{metrics_path}")
            m = len(specs) - 1
        r = -1
        if "Gitlog-Run" not in rec.trailers and rec.files.get(run_path) != "":
            specs.append(rec.files.get(run_path) or f"{rec.node.commit}:{run_path}")
            r = len(specs) - 1
        wants.append((m, r))
    objects = repo.read_objects(specs).result() if specs else []
    out = []
    for rec, (m, r) in zip(records, wants):
        tags = rec.trailers
        facts = Facts(rec.node.commit, rec.time, rec.date, rec.author, rec.subject,
                      has_run=False, run_id=tags.get("Gitlog-Run"),
                      experiment=tags.get("Gitlog-Experiment"),
                      status=tags.get("Gitlog-Status"), code_commit=tags.get("Gitlog-Code"))
        run_blob = objects[r] if r >= 0 else None
        if run_blob is not None and run_blob[0] == "blob":
            info = parse_run_yaml(run_blob[1])
            facts.run_id = facts.run_id or info.get("id")
            facts.experiment = facts.experiment or info.get("experiment")
            facts.status = facts.status or info.get("status")
            facts.code_commit = facts.code_commit or info.get("code_commit")
            facts.has_run = True
        elif rec.files.get(run_path) or (r < 0 and "Gitlog-Run" in tags
                                          and rec.files.get(run_path) != ""):
            facts.has_run = True
        metrics = objects[m] if m >= 0 else None
        if metrics is not None and metrics[0] == "blob":
            facts.has_run = True
            facts.metrics_blob = metrics[2]
            facts.flat, facts.error = _metrics(metrics[1])
            if facts.flat is not None:
                facts.metrics_json = metrics[1].decode("utf-8", "replace")
        if facts.code_commit == "none":
            facts.code_commit = None
        out.append(facts)
    return out

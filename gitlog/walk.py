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
from collections.abc import Iterator
from typing import Any

from .git import Repo

FORMAT = ("%x1e%H%x00%P%x00%ct%x00%cI%x00%an <%ae>%x00%S%x00%s%x00"
          "%(trailers:only,unfold,separator=%x1f)")
RUN_KEYS = ("id", "experiment", "status", "code_commit", "code_tree")
_INF = float("inf")


# Plain slotted classes, not dataclasses: these are made 10,000 times a query and the
# module is on every query's import path (a dataclass costs ~1 ms to define).
class Node:
    """One walked commit: its parents within the walk and the ref it was reached from."""

    __slots__ = ("commit", "parents", "source")

    def __init__(self, commit: str, parents: tuple[str, ...], source: str) -> None:
        self.commit = commit
        self.parents = parents
        self.source = source

    def __repr__(self) -> str:
        return f"Node({self.commit[:10]}, parents={[p[:10] for p in self.parents]})"


class Facts:
    """What one commit holds, immutable per commit id (the index caches it)."""

    __slots__ = ("commit", "time", "date", "author", "subject", "has_run", "run_id",
                 "experiment", "status", "code_commit", "metrics_blob", "metrics_json",
                 "error", "flat")

    def __init__(self, commit: str, time: int, date: str, author: str, subject: str,
                 has_run: bool, run_id: str | None = None, experiment: str | None = None,
                 status: str | None = None, code_commit: str | None = None,
                 metrics_blob: str | None = None, metrics_json: str | None = None,
                 error: str | None = None) -> None:
        self.commit = commit
        self.time = time
        self.date = date
        self.author = author
        self.subject = subject
        self.has_run = has_run
        self.run_id = run_id
        self.experiment = experiment
        self.status = status
        self.code_commit = code_commit
        self.metrics_blob = metrics_blob
        self.metrics_json = metrics_json  # flat compact JSON: {"train/loss":0.3}
        self.error = error
        self.flat: dict[str, float] | None = None

    def __repr__(self) -> str:
        return (f"Facts({self.commit[:10]}, run={self.run_id!r}, "
                f"experiment={self.experiment!r}, error={self.error!r})")

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
            self.flat = json.loads(self.metrics_json) if self.metrics_json else {}
        return self.flat

    def metric(self, names: list[str], keys: list[str] | None = None) -> float | None:
        """The value of the first of ``names`` this run has, without parsing the rest.

        ``metrics_json`` is gitlog's own compact flat JSON of numbers, so a key shows as
        ``"name":`` right after ``{`` or ``,`` and its value runs to the next ``,``/``}``.
        """
        if self.flat is not None:
            return next((self.flat[n] for n in names if n in self.flat), None)
        text = self.metrics_json
        if not text:
            return None
        for key in keys or [json.dumps(n) + ":" for n in names]:
            at = text.find(key)
            while at > 0 and text[at - 1] not in "{,":
                at = text.find(key, at + 1)
            if at > 0:
                start = at + len(key)
                end = text.find(",", start)
                if end < 0:
                    end = text.find("}", start)
                raw = text[start:end]
                return float(raw) if any(c in raw for c in ".eE") else int(raw)
        return None


class Record:
    """The walk's raw facts about a commit, before its blobs are read."""

    __slots__ = ("node", "time", "date", "author", "subject", "trailers", "files")

    def __init__(self, node: Node, time: int, date: str, author: str, subject: str,
                 trailers: dict[str, str], files: dict[str, str]) -> None:
        self.node = node
        self.time = time
        self.date = date
        self.author = author
        self.subject = subject
        self.trailers = trailers
        self.files = files  # path -> new blob id ("" when deleted)


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
    i, end = 8, len(parts) - 1
    while i < end:
        item = parts[i]
        if item[:1] == ":" or item[:2] == "\n:":
            meta = item.split()
            files[parts[i + 1]] = "" if meta[4] == "D" else meta[3]
            i += 2
        else:
            i += 1
    tags: dict[str, str] = {}
    if trailers:
        for line in trailers.split("\x1f"):
            if line[:7] == "Gitlog-":
                key, _, value = line.partition(": ")
                tags[key] = value.strip()
    if not author.isascii():
        author = _text(author)
    if not subject.isascii():
        subject = _text(subject)
    return Record(Node(commit, tuple(parents.split()), source), int(ct or 0), ci, author,
                  subject, tags, files)


def _text(value: str) -> str:
    """Undo surrogateescape for display: invalid UTF-8 shows as U+FFFD."""
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


class Describer:
    """Facts for walked commits: their blobs stream into one ``git cat-file --batch`` as
    records arrive (while ``git log`` is still walking), and are parsed at ``finish()``."""

    def __init__(self, repo: Repo, log_dir: str) -> None:
        self.run_path, self.metrics_path = log_paths(log_dir)
        self.batch = repo.object_stream()
        self.records: list[tuple[Record, int, int]] = []

    def add(self, rec: Record) -> None:
        add = self.batch.add
        m_blob = rec.files.get(self.metrics_path)
        m = r = -1
        if m_blob != "":
            m = self.batch.count
            add(m_blob or f"{rec.node.commit}:{self.metrics_path}")
        run_blob = rec.files.get(self.run_path)
        if "Gitlog-Run" not in rec.trailers and run_blob != "":
            r = self.batch.count
            add(run_blob or f"{rec.node.commit}:{self.run_path}")
        self.records.append((rec, m, r))

    def finish(self) -> list[Facts]:
        objects = self.batch.result()
        return [_facts(rec, objects[m] if m >= 0 else None, objects[r] if r >= 0 else None,
                       self.run_path) for rec, m, r in self.records]


def _facts(rec: Record, metrics: tuple[str, bytes, str] | None,
           run_blob: tuple[str, bytes, str] | None, run_path: str) -> Facts:
    tags = rec.trailers
    facts = Facts(rec.node.commit, rec.time, rec.date, rec.author, rec.subject, False,
                  tags.get("Gitlog-Run"), tags.get("Gitlog-Experiment"),
                  tags.get("Gitlog-Status"), tags.get("Gitlog-Code"))
    if run_blob is not None and run_blob[0] == "blob":
        info = parse_run_yaml(run_blob[1])
        facts.run_id = facts.run_id or info.get("id")
        facts.experiment = facts.experiment or info.get("experiment")
        facts.status = facts.status or info.get("status")
        facts.code_commit = facts.code_commit or info.get("code_commit")
        facts.has_run = True
    elif rec.files.get(run_path) or ("Gitlog-Run" in tags and rec.files.get(run_path) != ""):
        facts.has_run = True
    if metrics is not None and metrics[0] == "blob":
        facts.has_run = True
        facts.metrics_blob = metrics[2]
        facts.flat, facts.error = _metrics(metrics[1])
        if facts.flat is not None:
            facts.metrics_json = json.dumps(facts.flat, separators=(",", ":"))
    if facts.code_commit == "none":
        facts.code_commit = None
    return facts


def describe(repo: Repo, log_dir: str, records: list[Record]) -> list[Facts]:
    """Facts for walked commits, their blobs read through one ``git cat-file --batch``."""
    describer = Describer(repo, log_dir)
    for rec in records:
        describer.add(rec)
    return describer.finish()

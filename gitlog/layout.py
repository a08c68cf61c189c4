"""The log directory format: what a run commit holds under ``<log_dir>/``.

    run.yaml      id, experiment, status, times, command, exit code, code commit, dirty, ...
    params.yaml   hyperparameters (nested mapping)
    metrics.json  latest value of every metric, nested by '/', plus "step"
    metrics/NAME.tsv  step series (``timestamp  step  NAME``), as DVCLive writes them
                      (the value column: ``journal.series_column``)
    data.yaml     data descriptors          model.yaml   model descriptors
    events.jsonl  one event a line: ts, level, message, fields, step
    artifacts/NAME.dvc  DVC pointer files of the run's artifacts (content in the DVC cache)

``build_files`` turns a journal into these files; ``read_run`` reads them back from any
commit through one ``git cat-file --batch``. A commit holds a run when its log directory
holds run.yaml or metrics.json (``holds_run``): metrics committed by hand are a run too.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from .facts import log_paths
from .journal import Journal
from .names import SYSTEM_PREFIX
from .values import deep_merge, parse_number
from .yamlwrite import yaml_dump

STATUS_RANK = {"running": -1, "completed": 0, "failed": 1, "killed": 2}
RUN_FILE, PARAMS_FILE, METRICS_FILE = "run.yaml", "params.yaml", "metrics.json"
DATA_FILE, MODEL_FILE, EVENTS_FILE = "data.yaml", "model.yaml", "events.jsonl"
# What a run writes into its log folder, all of it: ``runfiles.is_run_file``.


_LOADERS = threading.local()


def yaml_load(data: bytes | str) -> Any:
    """A YAML document read as YAML 1.2, with ruamel's C parser when ruamel.yaml.clib is
    installed (~4x faster than the pure one: ``ls`` and a cold ``best`` read a file or
    two of every run) and one loader per thread. Invalid YAML is read again by the
    pure parser, whose error names the line and column and quotes the line, as
    users have always been shown; so is a file with a ``%YAML`` directive, which only
    the pure parser honours (``%YAML 1.1`` reads ``yes`` as true)."""
    loader = getattr(_LOADERS, "yaml", None)
    if loader is None:
        from ruamel.yaml import YAML

        loader = _LOADERS.yaml = YAML(typ="safe")
    if b"%YAML" in data if isinstance(data, bytes) else "%YAML" in data:
        from ruamel.yaml import YAML

        return YAML(typ="safe", pure=True).load(data)
    try:
        return loader.load(data)
    except Exception:
        from ruamel.yaml import YAML

        pure = YAML(typ="safe", pure=True)
        if loader.Parser is pure.Parser:
            raise
        return pure.load(data)
    finally:
        getattr(loader, "doc_infos", []).clear()  # load() adds one a document: keep none


def whole_lines(data: bytes) -> bytes:
    """Drop a torn last line (a process killed in the middle of a write)."""
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n")
        return data[: cut + 1] if cut >= 0 else b""
    return data


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'train/loss': 1} -> {'train': {'loss': 1}}; a clash keeps the flat key."""
    out: dict[str, Any] = {}
    for name in sorted(flat):
        node = out
        parts = name.split("/")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                node = out
                parts = [name]
                break
            node = child
        if isinstance(node.get(parts[-1]), dict):
            out[name] = flat[name]
        else:
            node[parts[-1]] = flat[name]
    return out


def flatten(tree: dict[str, Any], prefix: str = "", empty: bool = False) -> dict[str, Any]:
    """{'train': {'loss': 1}} -> {'train/loss': 1}; with ``empty``, an empty mapping
    inside ``tree`` is kept as a value: {'opt': {'kwargs': {}}} -> {'opt/kwargs': {}}."""
    from .runfiles import leaves

    return dict(leaves(tree, prefix, empty))


def _event_time(line: bytes) -> bytes:
    """An events.jsonl line's ISO time, which sorts as text (gitlog writes it first)."""
    if line.startswith(b'{"ts":"'):
        return line[7:line.find(b'"', 7)]
    try:
        ts = json.loads(line).get("ts")
    except (ValueError, AttributeError):
        return b""
    return ts.encode() if isinstance(ts, str) else b""


def in_time_order(events: bytes) -> bytes:
    """events.jsonl's lines sorted by time, ties in the order they were written. Under
    ``gitlog run`` two processes write the journal, each flushing every few seconds: the
    script's traceback would come before the output lines that led to it."""
    lines = events.splitlines(keepends=True)
    times = [_event_time(line) for line in lines]
    if all(a <= b for a, b in zip(times, times[1:], strict=False)):
        return events
    order = sorted(range(len(lines)), key=times.__getitem__)
    return b"".join(lines[i] for i in order)


def _last_sign_of_life(last_ms: float, events: bytes) -> str | None:
    """A dead run's end: when it last recorded a point or an event (``events`` in time
    order); None when it recorded neither."""
    from .recorder import iso

    last_event = _event_time(events.rstrip(b"\n").rsplit(b"\n", 1)[-1]).decode() \
        if events else ""
    last_point = iso(last_ms / 1000) if last_ms else ""
    return max(last_event, last_point) or None


def _seconds_between(start: str, end: str) -> float | None:
    from datetime import datetime

    try:
        seconds = (datetime.fromisoformat(end.replace("Z", "+00:00")) -
                   datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
    except (TypeError, ValueError):
        return None
    return round(seconds, 3)


def final_status(journal: Journal) -> str:
    """The worst status any writer recorded; no record at all means the run was killed."""
    records = journal.records("status")
    if not records:
        return "killed"
    return max((r.get("status", "killed") for r in records),
               key=lambda s: STATUS_RANK.get(s, 2))


def _last_point(data: bytes) -> tuple[str, str, str] | None:
    """(timestamp, step, value) of a series' last line; None when it holds none.
    ValueError when that line is damaged."""
    stop = len(data)  # the last line, found without copying the series (rstrip and
    while stop and data[stop - 1] == 10:  # rsplit copied 200 MB twice)
        stop -= 1
    cut = data.rfind(b"\n", 0, stop)
    last = data[cut + 1:stop]
    if not last or cut < 0 and last.startswith(b"timestamp"):
        return None
    ms, step, value = last.decode().split("\t")  # (UnicodeDecodeError is a ValueError)
    float(ms), int(step), parse_number(value)
    return ms, step, value


def _sound_lines(data: bytes) -> bytes:
    """The header and the lines that are points (timestamp, step, number) of ``data``."""
    lines = data.splitlines(keepends=True)
    kept = [lines[0]] if lines and lines[0].startswith(b"timestamp") else []
    for line in lines[len(kept):]:
        try:
            if _last_point(line):
                kept.append(line)
        except ValueError:
            continue
    return b"".join(kept)


def build_files(journal: Journal, status: str | None = None,
                read: dict[str, tuple[int, bytes]] | None = None) -> tuple[dict[str, bytes],
                                                                           dict]:
    """The log directory's files (relative path -> bytes) and the run record.

    ``read``: series already read, {name: (file size, whole lines)}, used while the file
    still has that size (a series is only ever appended to)."""
    meta = journal.meta()
    files: dict[str, bytes] = {}
    latest: dict[str, Any] = {}
    max_step = None
    last_ms = 0.0  # when the run last recorded a point
    for name, path in journal.metric_files():
        known = (read or {}).get(name)
        if known is not None and path.stat().st_size == known[0]:
            data = known[1]
        else:
            data = whole_lines(path.read_bytes())
        try:
            point = _last_point(data)
        except ValueError:  # a damaged line (a disk error): the series without them
            data = _sound_lines(data)
            point = _last_point(data)
        files[f"metrics/{name}.tsv"] = data
        if point:
            ms, step, value = point
            last_ms = max(last_ms, float(ms))
            latest[name] = parse_number(value)
            if name.startswith(SYSTEM_PREFIX):  # samples of resource use, not steps
                continue
            step_n = int(step)
            max_step = step_n if max_step is None else max(max_step, step_n)
    summary = nest(latest)
    if max_step is not None:
        summary["step"] = max_step
    files["metrics.json"] = (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode()

    params: dict[str, Any] = {}
    for update in journal.records("params"):
        deep_merge(params, update)
    files["params.yaml"] = yaml_dump(params)
    for kind, fname in (("data", DATA_FILE), ("model", MODEL_FILE)):
        descriptors: dict[str, Any] = {}
        for rec in journal.records(kind):
            descriptors[rec["name"]] = rec["descriptor"]
        if descriptors:
            files[fname] = yaml_dump(descriptors)
    for rec in journal.records("plots"):
        files[f"plots/{rec['name']}.json"] = json.dumps(rec["data"], indent=1).encode()
    from .pointers import artifact_files

    artifacts, pointers = artifact_files(journal.records("artifacts"),
                                         meta.get("log_dir") or ".gitlog")
    files.update(pointers)
    events = journal.events_path()
    files["events.jsonl"] = in_time_order(whole_lines(events.read_bytes())) \
        if events.exists() else b""

    info: dict[str, Any] = {}
    for rec in journal.records("info"):
        deep_merge(info, rec)
    finished = [r for r in journal.records("status") if r.get("end")]
    end = max((r["end"] for r in finished), default=None) or info.get("end") or \
        _last_sign_of_life(last_ms, files["events.jsonl"])
    record = {
        "id": meta["id"],
        "experiment": meta["experiment"],
        "status": status or final_status(journal),
        "start": meta["start"],
        "end": end,
        "command": meta.get("command"),
        **({"cwd": meta["cwd"]} if meta.get("cwd") else {}),
        **{key: meta[key] for key in ("interactive", "notebook") if meta.get(key)},
        "exit_code": info.get("exit_code"),
        "code_commit": meta.get("code_commit"),
        "code_branch": meta.get("code_branch"),
        "code_tree": meta.get("code_tree"),
        "dirty": meta.get("dirty"),
        "host": meta.get("host"),
        "user": meta.get("user"),
        "python": meta.get("python"),
        "packages": info.get("packages") or meta.get("packages") or {},
    }
    for key in ("duration_s", "cpu_time_s", "peak_memory_mb", "message"):
        if key in info or key in meta:
            record[key] = info.get(key, meta.get(key))
    if "duration_s" not in record and end:  # gitlog run measures it; else start to end
        record["duration_s"] = _seconds_between(meta["start"], end)
    if artifacts:
        record["artifacts"] = artifacts
    events_count = files["events.jsonl"].count(b"\n")
    record["events"] = events_count
    files["run.yaml"] = yaml_dump(record)
    return files, record


@dataclass
class RunRecord:
    """One run read back from a commit."""

    commit: str
    run: dict[str, Any] = field(default_factory=dict)  # run.yaml, else the trailers' facts
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # files that could not be read

    @property
    def flat_metrics(self) -> dict[str, Any]:
        return flatten(self.metrics)

    @property
    def artifacts(self) -> list[Any]:
        """The run's artifacts (``pointers.Artifact``), sorted by name."""
        from .pointers import from_run

        return from_run(self.run)


def _blob(catfile: Any, spec: str) -> bytes | None:
    item = catfile.read(spec)
    return item[1] if item and item[0] == "blob" else None


def run_yaml(catfile: Any, commit: str, run_path: str) -> tuple[bytes | None, bool]:
    """``commit``'s run.yaml, and whether it is its own: not taken unchanged from its
    first parent. One taken so (metrics committed by hand on top of a run) is the
    earlier run's, and says nothing of this commit but its experiment."""
    raw = _blob(catfile, f"{commit}:{run_path}")
    return raw, raw is not None and _blob(catfile, f"{commit}^:{run_path}") != raw


def holds_run(catfile: Any, commit: str, log_dir: str) -> bool:
    """Whether ``commit`` holds a run: its log directory holds metrics.json, or a
    run.yaml of its own (``run_yaml``), as history and best find runs. Every command
    that takes a run asks this, or ``read_run``, which keeps the same rule."""
    run_path, metrics_path = log_paths(log_dir)
    return _blob(catfile, f"{commit}:{metrics_path}") is not None or \
        run_yaml(catfile, commit, run_path)[1]


def own_events(catfile: Any, commit: str, log_dir: str, own_run: bool | None = None) -> \
        bytes | None:
    """``commit``'s events.jsonl, or None when it holds none of its own: none at all,
    or the one it took unchanged from its first parent while its run.yaml is not its
    own either (``own_run``, looked up when None)."""
    path = f"{log_dir}/{EVENTS_FILE}"
    raw = _blob(catfile, f"{commit}:{path}")
    if raw is None:
        return None
    if own_run is None:
        own_run = run_yaml(catfile, commit, log_paths(log_dir)[0])[1]
    return raw if own_run or _blob(catfile, f"{commit}^:{path}") != raw else None


def read_run(catfile: Any, commit: str, log_dir: str, *, events: bool = True,
             extras: bool = True) -> RunRecord | None:
    """The run stored in ``commit``, or None when the commit holds no run (``holds_run``).
    Without run.yaml of its own (metrics committed by hand, ``run_yaml``), ``run``
    holds what the commit's ``Gitlog-*`` trailers say (id, experiment, status,
    code_commit), the experiment else the earlier run's, as history reads such a run;
    its events are those it changed (``own_events``). A metrics.json that does not
    parse reads as no metrics, with a line in ``warnings``. ``extras=False`` leaves
    params, data and model unread (``gitlog ls`` shows none of them)."""
    run_path, metrics_path = log_paths(log_dir)
    run_raw, own = run_yaml(catfile, commit, run_path)
    metrics_raw = _blob(catfile, f"{commit}:{metrics_path}")
    if not own and metrics_raw is None:
        return None
    record = RunRecord(commit=commit)

    def mapping(raw: bytes, name: str) -> dict:
        """A YAML file's mapping; one that does not parse reads as empty, with a warning."""
        try:
            data = yaml_load(raw)
        except Exception as err:  # ruamel's errors have no common public base
            problem = f"is not valid YAML ({str(err).splitlines()[0]})"
        else:
            if data is None or isinstance(data, dict):
                return data or {}
            problem = f"holds a {type(data).__name__}, not a mapping"
        record.warnings.append(f"commit {commit[:10]}: {log_dir}/{name} {problem}; "
                               "shown as empty")
        return {}

    if own:
        assert run_raw is not None
        record.run = mapping(run_raw, RUN_FILE)
    else:
        from .trailers import run_fields

        found = catfile.read(commit)
        record.run = run_fields(found[1], catfile.cwd) if found and found[0] == "commit" \
            else {}
        if run_raw is not None and "experiment" not in record.run:
            from .facts import parse_run_yaml

            if experiment := parse_run_yaml(run_raw).get("experiment"):
                record.run["experiment"] = experiment

    def blob(name: str) -> bytes | None:
        return _blob(catfile, f"{commit}:{log_dir}/{name}")

    if metrics_raw is not None:
        from .facts import parse_metrics

        tree, _, error = parse_metrics(metrics_raw)
        if tree is None:  # history and best skip such a run; here its metrics are missing
            record.warnings.append(f"commit {commit[:10]}: {log_dir}/{METRICS_FILE} {error}; "
                                   "its metrics are shown as missing")
        record.metrics = tree or {}
    for name, attr in ((PARAMS_FILE, "params"), (DATA_FILE, "data"), (MODEL_FILE, "model")) \
            if extras else ():
        if (raw := blob(name)) is not None:
            setattr(record, attr, mapping(raw, name))
    if events and (raw := own_events(catfile, commit, log_dir, own)):
        record.events, bad = [], 0
        for line in raw.decode(errors="replace").splitlines():
            try:
                event = json.loads(line) if line else None
            except ValueError:
                event = None
            if isinstance(event, dict):
                record.events.append(event)
            elif line:
                bad += 1
        if bad:  # as `gitlog logs` does, the rest is shown
            record.warnings.append(f"commit {commit[:10]}: {log_dir}/{EVENTS_FILE}: {bad} "
                                   f"line{'s' if bad > 1 else ''} not JSON; skipped")
    return record

"""``gitlog logs``: a run's events (events.jsonl), filtered by level and text."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import LEVEL_NAMES, level_name, load
from .errors import GitlogError
from .git import Repo
from .layout import holds_run, own_events
from .query import no_run_error, resolve_run
from .recorder import LEVELS


@dataclass
class Event:
    ts: str | None
    level: str
    step: int | None
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunEvents:
    commit: str
    events: list[Event]
    skipped: int = 0  # lines that were not valid JSON


def fields_text(fields: dict[str, Any]) -> str:
    """An event's fields as ``gitlog logs`` shows them: ``lr=0.1, why=nan grad``."""
    return ", ".join(f"{k}={_shown(v)}" for k, v in fields.items())


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # as JSON and --where write it
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):  # as JSON writes it, not Python's {'x': 1}
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def logs(rev: str | None = None, *, level: str | int | None = None, grep: str | None = None,
         repo: str | Path | Repo = ".") -> RunEvents:
    """A run's events (``gitlog logs``): ``RunEvents(commit, events, skipped)``.

    rev: the run: a commit, an experiment name or a run id; default HEAD's run, else the
        newest.
    level: keep that level and above: a name ("warning") or a number as Python's
        ``logging.WARNING``.
    grep: keep events whose message or fields contain it (case-insensitive): the fields
        as the table shows them (``fields_text``: ``lr=0.1``) or as JSON (``"lr": 0.1``).
    repo: the repository, or any folder inside it (a str or a Path).

    Each ``Event`` has ``ts`` (ISO 8601 text; the CLI's ``time``), ``level``, ``step``,
    ``message`` and ``fields`` (a dict); ``skipped`` counts lines that are not valid JSON.

        gitlog.logs("baseline", level="warning").events
    """
    found = stream(rev, level=level, grep=grep, repo=repo)
    events = list(found)
    return RunEvents(found.commit, events, found.skipped)


class EventStream:
    """``logs`` one event at a time: iterate it once; ``skipped`` (lines that are not
    valid JSON) is whole after that. Only ``events.jsonl`` itself is held, not a parsed
    copy of every event (a run of 500,000 events: 650 MB as a list)."""

    def __init__(self, commit: str, data: bytes, floor: int, needle: str | None) -> None:
        self.commit, self.skipped = commit, 0
        self._data, self._floor, self._needle = data, floor, needle

    def __iter__(self) -> Iterator[Event]:
        floor, needle = self._floor, self._needle
        for raw in io.BytesIO(self._data):  # a line at a time, the blob not copied
            line = raw.decode("utf-8", "replace")
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                self.skipped += 1
                continue
            if not isinstance(item, dict):
                self.skipped += 1
                continue
            name = str(item.get("level", "info")).lower()
            if LEVELS.get(name, 20) < floor:
                continue
            got = item.get("fields")
            fields: dict[str, Any] = got if isinstance(got, dict) else {}
            message = str(item.get("message", ""))
            if needle and needle not in message.lower() and \
                    needle not in fields_text(fields).lower() and \
                    needle not in json.dumps(fields, default=str).lower():
                continue
            yield Event(item.get("ts"), name, item.get("step"), message, fields)
        self._data = b""


def stream(rev: str | None = None, *, level: str | int | None = None, grep: str | None = None,
           repo: str | Path | Repo = ".") -> EventStream:
    """``logs``, its events read as they are iterated (see ``EventStream``)."""
    from .apiargs import rev_arg, text_arg

    rev = rev_arg(rev, "logs")
    grep = text_arg(grep, "logs", "grep", "nan")
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = load(repo.root)
    floor = 0
    if isinstance(level, int) and not isinstance(level, bool):
        floor = level  # gitlog's levels have logging's numbers: logging.WARNING is 30
    elif level is not None:
        name = level_name(level)
        if name is None:
            raise GitlogError(f"unknown level {level!r}",
                              hint=f"use one of {LEVEL_NAMES}, or logging.WARNING "
                                   "and the like")
        floor = LEVELS[name]
    commit = resolve_run(repo, config, rev)
    with repo.cat_file() as cat:
        if not holds_run(cat, commit, config.log_dir):
            raise no_run_error(repo, config, rev, commit)
        got = own_events(cat, commit, config.log_dir)
    return EventStream(commit, got or b"", floor, grep.lower() if grep else None)

"""``gitlog logs``: a run's events (events.jsonl), filtered by level and text."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import load
from .errors import GitlogError, RevisionError
from .git import Repo
from .layout import holds_run, own_events
from .query import resolve_run
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
    """Events of the run at ``rev`` (default: HEAD's run, else the newest), at ``level`` or
    above (a name, or a number as Python's ``logging.WARNING``), whose message or fields
    contain ``grep`` (case-insensitive): the fields as the table shows them
    (``fields_text``: ``lr=0.1``) or as JSON (``"lr": 0.1``)."""
    repo = repo if isinstance(repo, Repo) else Repo(repo)
    config = load(repo.root)
    floor = 0
    if isinstance(level, int) and not isinstance(level, bool):
        floor = level  # gitlog's levels have logging's numbers: logging.WARNING is 30
    elif level is not None:
        if str(level).lower() not in LEVELS:
            raise GitlogError(f"unknown level {level!r}",
                              hint=f"use one of {', '.join(LEVELS)}, or logging.WARNING "
                                   "and the like")
        floor = LEVELS[str(level).lower()]
    commit = resolve_run(repo, config, rev)
    with repo.cat_file() as cat:
        if not holds_run(cat, commit, config.log_dir):
            from .logdirs import moved_hint

            raise RevisionError(rev or commit[:12], "this commit holds no run", hint=moved_hint(
                repo, config, "pick a run from 'gitlog history' or 'gitlog ls'", commit))
        got = own_events(cat, commit, config.log_dir)
    needle = grep.lower() if grep else None
    events, skipped = [], 0
    for line in (got or b"").decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if not isinstance(item, dict):
            skipped += 1
            continue
        name = str(item.get("level", "info")).lower()
        if LEVELS.get(name, 20) < floor:
            continue
        raw = item.get("fields")
        fields: dict[str, Any] = raw if isinstance(raw, dict) else {}
        message = str(item.get("message", ""))
        if needle and needle not in message.lower() and \
                needle not in fields_text(fields).lower() and \
                needle not in json.dumps(fields, default=str).lower():
            continue
        events.append(Event(item.get("ts"), name, item.get("step"), message, fields))
    return RunEvents(commit, events, skipped)

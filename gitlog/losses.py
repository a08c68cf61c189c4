"""Saying in the run what its journal could not keep (a full disk while it trained).

A write the disk refuses warns at the time and training goes on; the points, events and
records of that write are lost. The run used to be committed ``completed`` with no trace
of them: its last values could be a step long past, and nothing said so. When the run
finishes (space may be back by then) one ``error`` event counts what was lost.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from .journal import Journal, dumps


def lost_text(journal: Journal) -> str | None:
    """'N points (loss: N), M events and 1 params record lost: the run journal could not
    be written (REASON)', or None when nothing was lost."""
    points, records = journal.lost_points, dict(journal.lost_records)
    if not points and not records:
        return None
    parts = []
    if points:
        total = sum(points.values())
        shown = ", ".join(f"{name}: {count}" for name, count in sorted(points.items())[:5])
        more = ", ..." if len(points) > 5 else ""
        parts.append(f"{_count(total, 'point')} ({shown}{more})")
    events = records.pop("events", 0)
    if events:
        parts.append(_count(events, "event"))
    parts += [_count(count, f"{name} record") for name, count in sorted(records.items())]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    reason = journal.lost_reason.strerror if journal.lost_reason is not None and \
        journal.lost_reason.strerror else str(journal.lost_reason)
    return f"{listed} lost: the run journal could not be written ({reason})"


def note_losses(journal: Journal, step: int | None) -> str | None:
    """Append the ``error`` event that says what ``journal`` lost; return its text (for
    the run's warning), None when nothing was lost. The event itself may be lost too (the
    disk still full): the warning says it all the same."""
    text = lost_text(journal)
    if text is None:
        return None
    from .recorder import iso

    fields: dict[str, Any] = {"lost_points": dict(journal.lost_points),
                              "lost_records": dict(journal.lost_records),
                              "reason": str(journal.lost_reason)}
    event = {"ts": iso(time.time()), "level": "error", "message": text, "fields": fields,
             "step": step}
    with contextlib.suppress(OSError):
        journal.append("events.jsonl", dumps(event) + "\n")
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

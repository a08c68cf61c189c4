"""What a deployment window records of a request's error and of ``Monitor.log``: events
built at once, in the request's thread, from values that may change or fail later (an
exception whose ``str()`` raises, a dict the handler goes on changing)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from .errors import GitlogError

INPUTS_CHARS = 1000  # of an error sample's inputs (their repr)


def number(name: str, value: Any) -> float:
    try:
        return float(value)  # numpy and torch scalars
    except (TypeError, ValueError):
        raise GitlogError(f"observed {name} is not a number: {value!r}",
                          hint="observe numbers (floats, ints, numpy scalars)") from None


def event_of(level: str, message: str, fields: dict[str, Any]) -> dict[str, Any]:
    from .recorder import iso

    return {"ts": iso(time.time()), "level": level, "message": message, "fields": fields}


def frozen(fields: dict[str, Any]) -> dict[str, Any]:
    """``log()``'s fields as JSON values now: a window is stored minutes later, by then a
    dict or list passed in may have changed."""
    import json

    from .journal import dumps

    return json.loads(dumps(fields)) if fields else {}


def error_event(error: str | BaseException, latency: float,
                 inputs: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"latency_ms": round(latency * 1000, 3)}
    if isinstance(error, BaseException):
        message = f"{type(error).__name__}: {text_of(error, str)}"
        fields["error_type"] = type(error).__name__
        fields["traceback"] = "".join(traceback.format_exception(
            type(error), error, error.__traceback__, limit=-20))
    else:
        message = str(error)
    if inputs is not None:
        text = text_of(inputs, repr)
        fields["inputs"] = text if len(text) <= INPUTS_CHARS else \
            text[:INPUTS_CHARS - 3] + "..."
    return event_of("error", message if len(message) <= 1000 else message[:997] + "...",
                  fields)


def text_of(obj: Any, how: Callable[[Any], str]) -> str:
    """``str(obj)`` or ``repr(obj)``; one that raises is the object's problem, not the
    request's: its exception must not replace the one the handler raised."""
    try:
        return how(obj)
    except Exception as exc:
        return f"<{how.__name__} failed: {type(exc).__name__}>"

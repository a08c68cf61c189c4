"""Rendering rows as a table, JSON, CSV or Markdown: the one place output is formatted.

stdout carries data only; JSON holds real numbers (non-finite ones become the strings
"nan", "inf", "-inf", since JSON has no such numbers).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Iterator, Sequence

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

FORMATS = ("table", "json", "csv", "markdown")


def format_option(*formats: str) -> Any:
    import click

    choices = list(formats or FORMATS)
    return click.option("--format", "fmt", type=click.Choice(choices), default="table",
                        show_default=True, help="Output format.")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(_json_safe(data), indent=2, ensure_ascii=False, default=str)


_STRING = json.encoder.encode_basestring  # type: ignore[attr-defined]
_SCALARS = {type(None): lambda v: "null", bool: lambda v: "true" if v else "false",
            int: int.__repr__, str: _STRING,
            float: lambda v: float.__repr__(v) if v - v == 0 else _STRING(str(_json_safe(v)))}


def iter_json(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """``render(rows, "json", columns)`` in pieces, one a row: the same text, built
    without holding all of it (rows of scalars and lists of scalars take a fast path)."""
    keys = [f"    {_STRING(c)}: " for c in columns]
    opening = "[\n  "
    for row in rows:
        yield opening + _row_json([row.get(c) for c in columns], keys, columns)
        opening = ",\n  "
    yield "[]" if opening == "[\n  " else "\n]"


def _row_json(values: list[Any], keys: list[str], columns: Sequence[str]) -> str:
    parts = []
    for key, value in zip(keys, values, strict=True):
        dump = _SCALARS.get(value.__class__)
        if dump is not None:
            parts.append(key + dump(value))
        elif value.__class__ is list and all(v.__class__ in _SCALARS for v in value):
            items = ",\n".join("      " + _SCALARS[v.__class__](v) for v in value)
            parts.append(key + ("[\n" + items + "\n    ]" if value else "[]"))
        elif value.__class__ is dict and all(k.__class__ is str and v.__class__ in _SCALARS
                                             for k, v in value.items()):
            items = ",\n".join("      " + _STRING(k) + ": " + _SCALARS[v.__class__](v)
                                for k, v in value.items())
            parts.append(key + ("{\n" + items + "\n    }" if value else "{}"))
        else:  # anything else: as json.dumps writes it, indented one level
            return to_json(dict(zip(columns, values, strict=True))).replace("\n", "\n  ")
    return "{\n" + ",\n".join(parts) + "\n  }"


def iter_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str],
             chunk: int = 2000) -> Iterator[str]:
    """``render(rows, "csv", columns)`` in pieces of ``chunk`` rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    newline = ""  # each piece's last newline goes out with the next piece
    for n, r in enumerate(rows, 1):
        writer.writerow([_csv_cell(r.get(c)) for c in columns])
        if n % chunk == 0:
            yield newline + buf.getvalue()[:-1]
            newline = "\n"
            buf.seek(0)
            buf.truncate()
    yield (newline + buf.getvalue()).rstrip("\n")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # as params.yaml and --where write it (a string 'yes' stays)
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):  # CSV too: the cell reads back as JSON
        return json.dumps(_json_safe(value), ensure_ascii=False, default=str)
    return str(value)


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None) -> str:
    """Rows as text in ``fmt``; ``columns`` fixes the order (default: first row's keys)."""
    if columns is None:
        columns = list(rows[0]) if rows else []
    if fmt == "json":
        return to_json([{c: r.get(c) for c in columns} for r in rows])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_csv_cell(r.get(c)) for c in columns])
        return buf.getvalue().rstrip("\n")
    from tabulate import tabulate

    from ..display import visible

    table = [[visible(cell(r.get(c))) for c in columns] for r in rows]
    align = ["right" if numeric([r.get(c) for r in rows]) else "left" for c in columns]
    return tabulate(table, headers=list(columns),
                    tablefmt="github" if fmt == "markdown" else "simple",
                    disable_numparse=True, colalign=align)


def is_number(value: Any) -> bool:
    """A value a table right-aligns (bools aside: they read as words)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric(values: list[Any]) -> bool:
    """A column of numbers, blanks aside (an all-blank column is not): right-aligned."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds <= {int, float}:  # (the common case, without a call a cell)
        return bool(kinds)
    present = [v for v in values if v is not None]
    return bool(present) and all(map(is_number, present))


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if value.__class__ is list and all(v.__class__ is str for v in value):
        return "[" + ", ".join(map(_STRING, value)) + "]"  # as json.dumps writes it, faster
    return cell(value)


# stdout and stderr are looked up at each call (a test runner may swap them); this module
# does not import click, so the CLI's fast path for ``history`` can use it.
def echo(text: str) -> None:
    """``text`` and a newline on stdout (nothing for an empty text)."""
    if text:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def echo_chunks(chunks: Iterable[str]) -> None:
    """Like ``echo("".join(chunks))``, written as the pieces come."""
    out = sys.stdout
    written = False
    for text in chunks:
        if text:
            out.write(text)
            written = True
    if written:
        out.write("\n")
        out.flush()


def echo_err(text: str) -> None:
    """``text`` and a newline on stderr."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()

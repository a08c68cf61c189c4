"""Rendering rows as a table, JSON, CSV or Markdown: the one place output is formatted.

stdout carries data only; JSON holds real numbers (non-finite ones become the strings
"nan", "inf", "-inf", since JSON has no such numbers).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import click

FORMATS = ("table", "json", "csv", "markdown")


def format_option(*formats: str) -> Any:
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


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
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

    table = [[cell(r.get(c)) for c in columns] for r in rows]
    return tabulate(table, headers=list(columns),
                    tablefmt="github" if fmt == "markdown" else "simple",
                    disable_numparse=True)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    return cell(value)


def echo(text: str) -> None:
    if text:
        click.echo(text)

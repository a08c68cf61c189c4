"""Rendering for the query commands (history, best, blame, compare, logs).

JSON and CSV go through ``_output.render``; tables and Markdown are aligned here, without
tabulate, whose import alone costs more than a warm ``gitlog history`` (~0.1 s): the
query commands must start fast. Numbers are right-aligned; deltas carry their sign.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence

from ..display import visible
from ..names import refuse_column_clash as refuse_column_clash  # (best, blame, ls)
from ._output import echo, echo_err, numeric, render
from ._output import is_number as is_number  # (logs)

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

SPARKS = "▁▂▃▄▅▆▇█"
SUBJECT = 50  # a table's commit subjects longer than this end in '…' (a terminal's width)


def markdown_text(text: str) -> str:
    """``text`` as Markdown shows it as written: GitHub drops what reads as an HTML tag
    (a repr's ``<function relu at 0x7f...>``, a subject's ``List<int>``)."""
    if "<" not in text and "&" not in text:
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;")


def markdown_cell(text: str) -> str:
    """A Markdown table's cell: as ``markdown_text``, and ``|`` does not end it."""
    return markdown_text(text).replace("|", "\\|")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` display columns, its end an ellipsis when it was longer."""
    if len(text) <= limit and (text.isascii() or width(text) <= limit):
        return text
    out, used = [], 1
    for c in text:
        used += width(c)
        if used > limit:
            break
        out.append(c)
    return "".join(out).rstrip() + "…"


def width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def number(value: Any, signed: bool = False, suffix: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:+.6g}" if signed else f"{value:.6g}"
    elif isinstance(value, int):
        text = f"{value:+d}" if signed else str(value)
    else:
        return str(value)
    return text + suffix


def _column(values: list[Any], kind: str | None) -> list[str]:
    kinds = set(map(type, values))
    if kind in ("delta", "pct"):
        suffix = "%" if kind == "pct" else ""
        if kinds <= {float, _NONE}:  # deltas are finite: no inf/nan to spell out
            return ["" if v is None else f"{v:+.6g}{suffix}" if v - v == 0 else
                    number(v, signed=True, suffix=suffix) for v in values]
        return ["" if v is None else number(v, signed=True, suffix=suffix) for v in values]
    if kinds <= {str, _NONE}:
        return ["" if v is None else visible(v) for v in values]
    if kinds <= {float, _NONE}:
        return ["" if v is None else f"{v:.6g}" if v - v == 0 else str(v) for v in values]
    if kinds <= {list, _NONE}:
        return ["" if v is None else visible(joined(v)) for v in values]
    out = []
    for v in values:
        if v is None:
            out.append("")
        elif v.__class__ is str:
            out.append(visible(v))
        elif isinstance(v, (list, tuple)):
            out.append(visible(joined(v)))
        elif isinstance(v, dict):
            out.append(", ".join(f"{k}={number(x)}" for k, x in v.items()))
        else:
            out.append(number(v))
    return out


_NONE = type(None)


def joined(items: Sequence[Any]) -> str:
    """A list as one cell: its items joined with ', ', text as it is, the rest as JSON
    writes it (``true``, ``null``, ``{"n": 1}``), as ``show`` and params.yaml spell them
    (``str`` gave Python's ``True``, ``None``, ``{'n': 1}``)."""
    try:
        return ", ".join(items)  # text only (code_changes, files): the fast way
    except TypeError:
        return ", ".join(x if x.__class__ is str else
                         json.dumps(x, ensure_ascii=False, default=str) for x in items)


def cell_text(value: Any) -> str:
    """One cell as ``_column`` writes it in a column of no kind."""
    if value is None:
        return ""
    if value.__class__ is str:
        return visible(value)
    if isinstance(value, (list, tuple)):
        return visible(joined(value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={number(x)}" for k, x in value.items())
    return number(value)


def _pad(cells: list[str], header: str, right: bool,
         size: int | None = None) -> tuple[list[str], str, int]:
    """Cells and header padded to one display width (``size``: at least that wide)."""
    if size is None:
        size = max([width(header)] + [width(c) for c in cells])

    def pad(text: str) -> str:
        gap = " " * (size - width(text))  # type: ignore[operator]
        return gap + text if right else text + gap

    return [pad(c) for c in cells], pad(header), size


NUMERIC = ("delta", "pct", "number")  # kinds of column right-aligned, empty ones too


def format_columns(columns: Sequence[tuple[str, list[Any], str | None]], fmt: str,
                   clip: int | None = None) -> str:
    """A table or Markdown from (header, values, kind) columns; kind 'delta' or 'pct'
    signs numbers, kind 'number' holds numbers alone, kind 'subject' shortens a table's
    long subjects (``shorten``), ``clip`` shortens longer table cells with '…'. A column
    of numbers is right-aligned (Markdown: ``---:``), and one of a numeric kind is even
    when every cell is empty, as its header says what it holds."""
    return "\n".join(iter_columns(columns, fmt, clip))


def iter_columns(columns: Sequence[tuple[str, list[Any], str | None]], fmt: str,
                 clip: int | None = None, chunk: int = 1000) -> Iterator[str]:
    """``format_columns`` in pieces of ``chunk`` lines (joined by newlines, they are the
    same text), so a long table is written as it is formatted."""
    markdown = fmt == "markdown"
    texts, heads, rules, sizes, rights = [], [], [], [], []
    ascii_only = True
    for name, values, kind in columns:
        cells = _column(values, kind)
        if clip and fmt == "table":
            cells = [x if len(x) <= clip and x.isascii() else shorten(x, clip) for x in cells]
        if kind == "subject" and fmt == "table":
            cells = [shorten(x, SUBJECT) for x in cells]
        if markdown:
            cells = [markdown_cell(x) for x in cells]
        right = kind in NUMERIC or numeric(values)  # an empty one by its kind too
        if ascii_only and not (name.isascii() and "".join(cells).isascii()):
            ascii_only = False
        size = max(len(name), max(map(len, cells), default=0)) if ascii_only else \
            max([width(name)] + [width(c) for c in cells])
        texts.append(cells)
        sizes.append(size)
        rights.append(right)
        heads.append(_pad([], name, right, size)[1])
        rules.append(("-" * (size + 1) + ":" if right else "-" * (size + 2)) if markdown
                     else "-" * size)
    if markdown:
        yield "| " + " | ".join(heads) + " |\n|" + "|".join(rules) + "|"
    else:
        yield "  ".join(heads).rstrip() + "\n" + "  ".join(rules)
    count = len(texts[0]) if texts else 0
    if ascii_only:  # one %-format a row pads every cell
        line = ("| " if markdown else "") + (" | " if markdown else "  ").join(
            f"%{size}s" if right else f"%-{size}s" for size, right in zip(sizes, rights,
                                                                         strict=True)) + \
            (" |" if markdown else "")
        for start in range(0, count, chunk):
            rows = zip(*(cells[start:start + chunk] for cells in texts), strict=True)
            yield "\n".join([line % row for row in rows] if markdown else
                            [(line % row).rstrip() for row in rows])
        return
    for start in range(0, count, chunk):
        padded = [_pad(cells[start:start + chunk], "", right, size)[0]
                  for cells, size, right in zip(texts, sizes, rights, strict=True)]
        if markdown:
            yield "\n".join("| " + " | ".join(row) + " |" for row in zip(*padded, strict=True))
        else:
            yield "\n".join("  ".join(row).rstrip() for row in zip(*padded, strict=True))


def iter_text_table(rows: Callable[[], Iterable[Sequence[str]]], columns: Sequence[str],
                    numeric: Iterable[int], fmt: str, chunk: int = 1000,
                    subject: int | None = None,
                    widest: dict[int, int] | None = None) -> Iterator[str]:
    """A table or Markdown of cells already written as text, in pieces of ``chunk`` lines
    (as ``iter_columns`` gives them). ``rows()`` is called twice: once to measure the
    columns, once to write them, so no cell is held in between. Columns in ``numeric``
    are right-aligned, empty ones too (Markdown's ``---:`` follows the column's kind, not
    its cells); a table's column ``subject`` is shortened to ``SUBJECT`` columns. A column
    in ``widest`` is padded to at most that width: a longer cell is written whole and
    pushes the rest of its own row right, so one huge cell does not pad every other row
    to its width."""
    markdown = fmt == "markdown"
    count = len(columns)
    sizes = [width(c) for c in columns]
    ascii_only = all(c.isascii() for c in columns)

    def cells(cut: int | None = None) -> Iterator[Sequence[str]]:
        if markdown:
            return ([markdown_cell(c) for c in r] for r in rows())
        if cut is None:
            return iter(rows())
        return (_shortened(r, cut) for r in rows())

    def measure(batch: list[Sequence[str]]) -> None:
        nonlocal ascii_only
        for i, column in enumerate(zip(*batch, strict=True)):
            if "".join(column).isascii():
                longest = max(map(len, column))
            else:
                ascii_only = False
                longest = max(map(width, column))
            if longest > sizes[i]:
                sizes[i] = longest

    batch: list[Sequence[str]] = []
    for row in cells():
        batch.append(row)
        if len(batch) == chunk:
            measure(batch)
            batch = []
    if batch:
        measure(batch)
    # measured whole: only when a subject is too wide are the rows shortened as written
    cut = subject if subject is not None and not markdown and sizes[subject] > SUBJECT \
        else None
    if cut is not None:
        sizes[cut] = max(SUBJECT, width(columns[cut]))
    for i, most in (widest or {}).items():
        sizes[i] = min(sizes[i], max(most, width(columns[i])))
    right_side = set(numeric)
    rights = [i in right_side for i in range(count)]
    heads = [_pad([], name, right, size)[1]
             for name, right, size in zip(columns, rights, sizes, strict=True)]
    rules = [("-" * (size + 1) + ":" if right else "-" * (size + 2)) if markdown
             else "-" * size for size, right in zip(sizes, rights, strict=True)]
    if markdown:
        yield "| " + " | ".join(heads) + " |\n|" + "|".join(rules) + "|"
    else:
        yield "  ".join(heads).rstrip() + "\n" + "  ".join(rules)
    line = ("| " if markdown else "") + (" | " if markdown else "  ").join(
        f"%{size}s" if right else f"%-{size}s" for size, right in zip(sizes, rights,
                                                                     strict=True)) + \
        (" |" if markdown else "")
    out: list[str] = []
    for row in cells(cut):
        if ascii_only:
            text = line % tuple(row)
        else:
            padded = [_pad([x], "", right, size)[0][0]
                      for x, right, size in zip(row, rights, sizes, strict=True)]
            text = ("| " + " | ".join(padded) + " |") if markdown else "  ".join(padded)
        out.append(text if markdown else text.rstrip())
        if len(out) == chunk:
            yield "\n".join(out)
            out = []
    if out:
        yield "\n".join(out)


def _shortened(row: Sequence[str], at: int) -> Sequence[str]:
    if len(row[at]) <= SUBJECT and row[at].isascii():
        return row
    row = list(row)
    row[at] = shorten(row[at], SUBJECT)
    return row


def format_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str,
                kinds: dict[str, str] | None = None, clip: int | None = None) -> str:
    """Rows as text: ``kinds`` marks columns 'delta' (signed), 'pct' (signed, %) or
    'number' (right-aligned even when empty);
    ``clip`` shortens longer table cells with '…' (JSON/CSV/Markdown keep them whole)."""
    if fmt in ("json", "csv"):  # a CSV cell holds a list as JSON does: ["a.py", "b.py"]
        return render(rows, fmt, columns)
    kinds = kinds or {}
    return format_columns([(c, [r.get(c) for r in rows], kinds.get(c)) for c in columns], fmt,
                          clip)


def sparkline(values: Iterable[float | None], limit: int = 60) -> str:
    """▁▂▃▅▇ of the values (a blank where a run lacks one), averaged down to ``limit``."""
    items = list(values)
    if len(items) > limit:
        buckets: list[float | None] = []
        for b in range(limit):
            chunk = [v for v in items[b * len(items) // limit:(b + 1) * len(items) // limit]
                     if v is not None and math.isfinite(v)]
            buckets.append(sum(chunk) / len(chunk) if chunk else None)
        items = buckets
    finite = [v for v in items if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    scale = 0.5 if math.isinf(high - low) else 1.0  # -1e308 to 1e308: halve them first
    span = high * scale - low * scale
    out = []
    for v in items:
        if v is None or not math.isfinite(v):
            out.append(" ")
        else:
            out.append(SPARKS[int((v * scale - low * scale) / span * (len(SPARKS) - 1))
                              if span else 3])
    return "".join(out)


def emit(text: str) -> None:
    echo(text)


def note(text: str) -> None:
    echo_err(f"gitlog: {text}")


def warn(text: str) -> None:
    echo_err(f"warning: {text}")


class Progress:
    """A progress line on stderr, shown only on a terminal and only after one second
    (``GITLOG_PROGRESS_DELAY`` seconds, as git's ``GIT_PROGRESS_DELAY``)."""

    def __init__(self, label: str = "indexing runs") -> None:
        import os
        import sys
        import time

        self.label = label
        try:
            delay = float(os.environ.get("GITLOG_PROGRESS_DELAY", "1"))
        except ValueError:
            delay = 1.0
        self.after = time.monotonic() + (delay if delay >= 0 else 1.0)
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        import sys
        import time

        if not self.tty or time.monotonic() < self.after:
            return
        if total:
            filled = int(20 * done / total)
            text = f"{stage} [{'#' * filled}{'.' * (20 - filled)}] {done}/{total}"
        else:
            text = f"{stage} {done} commits"
        sys.stderr.write(f"\r\x1b[Kgitlog: {self.label}: {text}")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        import sys

        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

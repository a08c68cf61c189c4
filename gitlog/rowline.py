"""A row of ``gitlog history`` as one stored line: where each field sits (``Layout``),
the values and cells it holds, and views over many lines (``Narrowed``, ``Kept``).

A row is one line of ``\\x1f``-separated fields: the raw values (what JSON and the Python
API give), then the table's cells, formatted once. A table is laid out from the lines
with string operations only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from math import floor, log10

from .display import visible

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from .rowstore import StoredLines

SEP = "\x1f"
PATHS = "\x1e"  # between the paths of a raw code-changes field
FIRST = "\x15"  # raw code changes of a line's first run: nothing to compare with
DIFF = "\x16"  # code changes to be filled from the diff at the end
ESC = "\x02"  # a field with a control character (these among them) is JSON after it

class MetricSpec:
    """One ``--metric``: its name, every name of its series, which way is better (lower:
    True or False; None: neither, no verdict) and which point (a step, parse_step; None
    for the summary value)."""

    __slots__ = ("name", "names", "lower", "which")

    def __init__(self, name: str, names: tuple[str, ...], lower: bool | None,
                 which: str | None = None) -> None:
        self.name, self.names, self.lower, self.which = name, names, lower, which

    def key(self) -> str:
        return json.dumps([list(self.names), self.which, self.lower])


class Layout:
    """Where each field sits in a line of ``metrics`` metrics.

    Raw: commit, previous, time, run, status, author, code changes, then value, delta
    and % of each metric. Table cells (from ``display``): short commit, date,
    experiment, subject, then value, delta, % and verdict of each metric, then the code
    changes."""

    def __init__(self, metrics: int) -> None:
        self.metrics = metrics
        self.display = 7 + 3 * metrics
        self.fields = self.display + 5 + 4 * metrics

    def time(self, line: str) -> int:
        return int(line.split(SEP, 3)[2])

    def value(self, line: str, metric: int) -> int | float | None:
        """The value of the ``metric``-th metric (by position)."""
        at = 7 + 3 * metric
        return number(line.split(SEP, at + 1)[at])

    def cells(self, line: str) -> list[tuple]:
        """(value, delta, pct, verdict) of each metric, numbers as numbers."""
        return self._cells(line.split(SEP))

    def _cells(self, f: list[str]) -> list[tuple]:
        d = self.display + 7  # a verdict is a plain word: never escaped
        return [(number(f[7 + 3 * m]), number(f[8 + 3 * m]), number(f[9 + 3 * m]),
                 f[d + 4 * m] or None) for m in range(self.metrics)]

    def table(self, line: str) -> list[str]:
        """The table's cells."""
        cells = line.split(SEP)[self.display:]
        if ESC in line:  # (a field with a control character: see escaped)
            cells = [visible(text_of(c)) for c in cells]
        return cells

    def record(self, line: str) -> tuple[str, str | None, str, str, str, str, str | None,
                                         str | None, str, list[str] | None, list[tuple]]:
        """(commit, previous, date, experiment, subject, author, run, status, time,
        code changes, per-metric cells): numbers as numbers, text as stored."""
        f = line.split(SEP)
        code = f[6]  # its paths are escaped one by one
        if ESC in line:
            f = [x if i == 6 else text_of(x) for i, x in enumerate(f)]
        d = self.display
        changes = None if code == FIRST else [] if code == "" else \
            [text_of(p) for p in code.split(PATHS)]
        return (f[0], f[1] or None, f[d + 1], f[d + 2], f[d + 3], f[5], f[3] or None,
                f[4] or None, f[2], changes, self._cells(f))

    def valid(self, line: str) -> bool:
        return line.count(SEP) == self.fields - 1

    def narrow(self, line: str, keep: list[int]) -> str:
        """``line`` as a line of the metrics ``keep`` (by position) alone: exact when the
        others have no value in any row (then no delta or code change depends on them)."""
        f = line.split(SEP)
        d, m = self.display, self.metrics
        return SEP.join([*f[:7], *(f[7 + 3 * i + k] for i in keep for k in range(3)),
                         *f[d:d + 4], *(f[d + 4 + 4 * i + k] for i in keep for k in range(4)),
                         *f[d + 4 + 4 * m:]])


class Narrowed:
    """Lines of several metrics read as lines of some of them (``Layout.narrow``), again
    at each pass, as the lines themselves are."""

    def __init__(self, lines: list[str] | StoredLines, metrics: int, keep: list[int]) -> None:
        self.lines, self.keep = lines, keep
        self.narrow = Layout(metrics).narrow

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[str]:
        narrow, keep = self.narrow, self.keep
        return (narrow(line, keep) for line in self.lines)


def number(text: str) -> int | float | bool | None:
    """A stored number: as ``repr`` wrote it (an int stays an int), or true/false."""
    if not text:
        return None
    if "." in text or "e" in text or "n" in text:
        try:
            return float(text)
        except ValueError:  # (costs nothing when not raised)
            return text == "true"
    return int(text)


def text_of(field: str) -> str:
    return json.loads(field[1:]) if field[:1] == ESC else field


def escaped(text: str) -> str:
    """``text`` as a field of a stored line: as it is, or, when it holds a control
    character (a separator, a line break, an escape sequence), as JSON after ``ESC``."""
    return text if text.isprintable() else ESC + json.dumps(text)


def shown_number(value: int | float) -> str:
    return f"{value:.6g}" if value.__class__ is float else str(value)


class Kept:
    """The lines a query keeps (``keep``: which; ``n``: only the last n), read from
    ``lines`` again each time they are iterated."""

    def __init__(self, lines: list[str] | StoredLines | Kept | Narrowed,
                 keep: Callable[[str], bool] | None = None, n: int | None = None) -> None:
        self.lines, self.keep = lines, keep
        total = len(lines) if keep is None else sum(1 for line in lines if keep(line))
        shown = total if n is None else max(0, min(n, total))
        self.skip = total - shown
        self.count = shown

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        keep, skip, left = self.keep, self.skip, self.count
        for line in self.lines:
            if left == 0:
                return
            if keep is not None and not keep(line):
                continue
            if skip:
                skip -= 1
                continue
            left -= 1
            yield line


_NO_RAW = ("", "", "")
_NO_SHOWN = ("", "", "", "")
_FLAGS = {v: ((t, "", ""), (t, "", "", "")) for v, t in ((True, "true"), (False, "false"))}


def change(value: float, before: float,
           lower: bool | None) -> tuple[float | None, float | None, str | None]:
    """How ``value`` moved from ``before``: (delta, % or None when ``before`` is 0,
    better | worse | same, by which way is better; None when neither is, ``lower`` None:
    a step or a learning rate). Between floats, a move under a
    10^12th of ``before`` is float noise, the same, and a delta is cut to 15 digits at
    the values' scale; two ints move by their exact difference. The % keeps 2 decimals,
    2 significant digits under 0.1, so a change never shows as 0%. A value that is nan
    or infinite (a diverged run) is worse, with no delta; from such a ``before`` there
    is no change."""
    if value - value != 0:
        return None, None, None if lower is None else "worse"
    if before - before != 0:
        return None, None, None
    try:
        delta = value - before
        if delta.__class__ is not float:  # two ints: exact, no float noise (10**16 + 2)
            delta = float(delta)
        elif not delta or abs(delta) <= 1e-12 * abs(before):  # float noise: 0.1 + 0.2
            delta = 0.0  # vs 0.3; and -0.0 - 0.0 is -0.0: a user never sees a signed zero
        else:  # to 15 digits at the larger value's scale, under which lies the float
            # error of the values: 0.50001 - 0.5 is 1e-05, not 9.99999999995e-06
            delta = float(round(delta, 14 - floor(log10(max(abs(value), abs(before))))))
        pct = delta / abs(before) * 100 if before else None
        if pct is not None:  # 2 decimals; 2 digits under 0.1%: +0.002%, never a move as 0%
            pct = round(pct, 2) if not -0.1 < pct < 0.1 else float(f"{pct:.2g}")
    except OverflowError:  # ints beyond a float's range
        delta, pct = (float("inf") if value > before else float("-inf")), None
    if pct is not None and pct - pct != 0:  # 1e308 to -1e308: no finite %
        pct = None
    return delta, pct, None if lower is None else "same" if delta == 0 else \
        "better" if (delta < 0) == lower else "worse"


BIG = 2 ** 1024  # an int this large is no float: it reads as infinite


def unsigned(value: Any) -> Any:
    """``value``, but 0.0 for -0.0 (a metrics.json or a series may hold it): a user never
    sees a signed zero, in any query or format."""
    return 0.0 if value == 0 and value.__class__ is float else value


def finite_or_inf(value: Any) -> Any:
    """A metric's value as the rows keep it: an int too large for a float is infinite."""
    if value.__class__ is int and not -BIG < value < BIG:
        return float("inf") if value > 0 else float("-inf")
    return value


def _cells_of(value: float | None, before: float | None,
              lower: bool | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One metric's raw (value, delta, %) and shown (value, delta, %, verdict) cells."""
    if value is None:
        return _NO_RAW, _NO_SHOWN
    if value == 0 and value.__class__ is float:  # -0.0: never a signed zero
        value = 0.0
    if before is None or value.__class__ is bool:  # a boolean: shown, never compared
        return _FLAGS[value] if value.__class__ is bool else \
            ((repr(value), "", ""), (shown_number(value), "", "", ""))
    delta, pct, verdict = change(value, before, lower)
    verdict = verdict or ""
    if delta is None:  # a diverged value (``before`` is the line's latest finite one)
        return (repr(value), "", ""), (shown_number(value), "", "", verdict)
    if pct is None:
        return (repr(value), repr(delta), ""), (shown_number(value), f"{delta:+.6g}", "", verdict)
    return ((repr(value), repr(delta), repr(pct)),
            (shown_number(value), f"{delta:+.6g}", f"{pct:+.6g}%", verdict))


def metric_cells(values: tuple, old: tuple, lowers: list[bool | None]) -> tuple[tuple | list,
                                                                       tuple | list, tuple]:
    """Each metric's raw and shown cells against the latest value on the line before it,
    and the line's latest values."""
    if len(values) == 1:  # the usual query
        value = values[0]
        raw, shown = _cells_of(value, old[0], lowers[0])
        return raw, shown, old if value is None or value - value != 0 or \
            value.__class__ is bool else values
    raws: list[str] = []
    shows: list[str] = []
    for value, before, lower in zip(values, old, lowers, strict=True):
        raw, shown = _cells_of(value, before, lower)
        raws += raw
        shows += shown
    # the next run compares with the latest finite value on the line
    latest = tuple([b if v is None or v - v != 0 or v.__class__ is bool else v
                    for v, b in zip(values, old, strict=True)])
    return raws, shows, latest


def with_changes(line: str, files: list[str]) -> str:
    fields = line.split(SEP)
    fields[6] = PATHS.join(escaped(p) for p in files)
    fields[-1] = escaped(", ".join(files))
    return SEP.join(fields)

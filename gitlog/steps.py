"""``--step last|min|max|STEP``: one point of each run's step series (``metrics/NAME.tsv``).

The series are read through one ``git cat-file --batch``, one at a time (a series can
be megabytes), and the chosen value is cached per (commit, metric, step) in the index.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import chain, repeat

from .config import Config
from .errors import GitlogError
from .git import Repo
from .index import Index
from .values import parse_number

CHUNK = 64 * 1024  # bytes of a series parsed at once by pick (about 2,000 points)


def parse_step(text: str) -> str:
    """Validate ``--step``: last, min, max or a whole step number."""
    which = str(text).strip().lower()
    if which in ("last", "min", "max"):
        return which
    try:
        step = int(which)
    except ValueError:
        step = -1
    if step < 0:  # runs log steps from 0 up
        raise GitlogError(f"bad --step {text!r}",
                          hint="use last, min, max or a step number (0 or more) such as 100")
    return str(step)


def pick(data: bytes, which: str) -> float | None:
    """The value at ``which`` in a ``timestamp  step  value`` series (its header line
    first); lines that do not parse are skipped.

    The series is read a piece of about ``CHUNK`` bytes at a time (a step N from the end,
    stopping at the piece that has it): a series of millions of points costs a piece's
    worth of memory, not several times its size as lists of lines and fields."""
    if which == "last":
        return _last(data)
    pieces = _pieces(data)
    if which in ("min", "max"):
        best: float | None = None
        answer: float | None = None
        for lo, hi in pieces:
            values, value_at = _piece_values(data[lo:hi])
            if not values:
                continue
            # min/max as one pass over the whole series would go, the best so far first
            found = (min if which == "min" else max)(chain(() if best is None else (best,),
                                                           values))
            if best is None or found is not best:
                best, answer = found, value_at(values.index(found))
        return answer
    target = int(which)
    for lo, hi in reversed(pieces):  # the last point at that step: the last piece first
        got = _piece_step(data[lo:hi], target)
        if got is not None:
            return got
    return None


def _pieces(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the pieces of ``data`` after its header line, each about ``CHUNK``
    bytes of whole lines (the last one as it ends)."""
    head = data.find(b"\n")
    if head < 0:
        return []
    out = []
    lo = head + 1
    while lo < len(data):
        hi = data.find(b"\n", min(lo + CHUNK, len(data)) - 1) + 1 or len(data)
        out.append((lo, hi))
        lo = hi
    return out


def _lines(piece: bytes) -> list[str]:
    lines = piece.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _columns(lines: list[str]) -> tuple[list[str], list[str]] | None:
    """(steps, values) of lines that all have three fields (as gitlog writes them)."""
    if lines and set(map(str.count, lines, repeat("\t"))) == {2}:
        fields = "\t".join(lines).split("\t")
        return fields[1::3], fields[2::3]
    return None


def _piece_values(piece: bytes) -> tuple[list[float], Callable[[int], float]]:
    """The values of a piece's lines that parse, and the value to answer for the i-th."""
    lines = _lines(piece)
    columns = _columns(lines)
    if columns is not None:
        steps, texts = columns
        try:  # the whole piece at C speed; anything odd goes line by line below
            deque(map(int, steps), maxlen=0)  # every step is a number
            return list(map(float, texts)), lambda i: parse_number(texts[i])
        except ValueError:
            pass
    values = [v for _, v in filter(None, map(_point, lines))]
    return values, values.__getitem__


def _piece_step(piece: bytes, target: int) -> float | None:
    """The value of the last point of a piece logged at step ``target``."""
    lines = _lines(piece)
    columns = _columns(lines)
    if columns is not None:
        texts, values = columns
        try:
            steps = list(map(int, texts))
            if target not in steps:
                return None
            return parse_number(values[len(steps) - 1 - steps[::-1].index(target)])
        except ValueError:
            pass
    points = [p for p in map(_point, lines) if p is not None]
    return next((v for step, v in reversed(points) if step == target), None)


def _last(data: bytes) -> float | None:
    """The value of the last line that parses, read from the end."""
    head = data.find(b"\n")  # the header's end
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    while end > head >= 0:
        start = data.rfind(b"\n", head, end) + 1
        point = _point(data[start:end].decode("utf-8", "replace"))
        if point is not None:
            return point[1]
        end = start - 1
    return None


def _point(line: str) -> tuple[int, float] | None:
    """(step, value) of a series line, None if it does not parse."""
    parts = line.split("\t")
    if len(parts) < 3:
        return None
    try:
        return int(parts[1]), parse_number(parts[-1])
    except ValueError:
        return None


def series_path(name: str) -> str:
    """Where a metric's step series is kept, within the log directory."""
    return f"metrics/{name}.tsv"


class StepPoints:
    """The point ``which`` of each metric's series, for a walk that reads the series files
    of each commit (``paths``, in the log directory) as it goes: ``points(series)`` gives
    one value a metric from the contents read (None for a file the commit lacks). A
    metric with several names takes the first name that has a series."""

    def __init__(self, metrics: list[tuple[tuple[str, ...], str]]) -> None:
        """``metrics``: (names, which) of each metric."""
        self.paths = list(dict.fromkeys(series_path(n) for names, _ in metrics
                                        for n in names))
        self._picks = [([self.paths.index(series_path(n)) for n in names], which)
                       for names, which in metrics]

    def __call__(self, series: tuple[bytes | None, ...]) -> tuple[float | None, ...]:
        values: list[float | None] = []
        for at, which in self._picks:
            blob = next((series[i] for i in at if series[i] is not None), None)
            values.append(None if blob is None else pick(blob, which))
        return tuple(values)


def step_values(repo: Repo, config: Config, index: Index, commits: list[str],
                names: list[str], which: str) -> list[float | None]:
    """Per commit, the value at ``which`` of the first of ``names`` that has a series."""
    key = "|".join(names)
    cached = {c: v for (c, m), v in index.steps(which).items() if m == key}
    missing = [c for c in dict.fromkeys(commits) if c not in cached]
    if missing:
        specs = [f"{c}:{config.log_dir}/{series_path(name)}" for c in missing for name in names]
        objects = repo.iter_objects(specs)  # one series held at a time: they can be large
        fresh: dict[str, float | None] = {}
        for commit in missing:
            value: float | None = None
            found = False
            for _ in names:  # the first name that has a series
                got = next(objects)
                if not found and got is not None and got[0] == "blob":
                    value, found = pick(got[1], which), True
            fresh[commit] = value
        index.put_steps(which, {(c, key): v for c, v in fresh.items()})
        cached.update(fresh)
    return [cached[c] for c in commits]

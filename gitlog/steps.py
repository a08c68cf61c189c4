"""``--step last|min|max|STEP``: one point of each run's step series (``metrics/NAME.tsv``).

The series are read through one ``git cat-file --batch``, one at a time (a series can
be megabytes), and the chosen value is cached per (commit, metric, step) in the index.
"""

from __future__ import annotations

from .config import Config
from .errors import GitlogError
from .git import Repo
from .index import Index
from .values import parse_number


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
    first); lines that do not parse are skipped."""
    from itertools import repeat

    if which == "last":
        return _last(data)
    lines = data.decode("utf-8", "replace").split("\n")[1:]
    if lines and lines[-1] == "":
        lines.pop()
    if lines and set(map(str.count, lines, repeat("\t"))) == {2}:  # as gitlog writes them
        fields = "\t".join(lines).split("\t")
        try:  # the whole series at C speed; anything odd goes line by line below
            return _pick_columns(list(map(int, fields[1::3])), fields[2::3], which)
        except ValueError:
            pass
    points = [p for p in map(_point, lines) if p is not None]
    if not points:
        return None
    if which in ("min", "max"):
        values = [v for _, v in points]
        return min(values) if which == "min" else max(values)
    target = int(which)
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


def _pick_columns(steps: list[int], texts: list[str], which: str) -> float | None:
    """``pick`` ("min", "max" or a step) from the step and value columns of a series
    whose every line has three fields (ValueError when a value does not parse)."""
    if which in ("min", "max"):
        values = list(map(float, texts))
        at = values.index(min(values) if which == "min" else max(values))
    else:
        target = int(which)
        if target not in steps:
            return None
        at = len(steps) - 1 - steps[::-1].index(target)  # the last point at that step
    return parse_number(texts[at])


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

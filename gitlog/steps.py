"""``--step last|min|max|STEP``: one point of each run's step series (``metrics/NAME.tsv``).

The series are read through one ``git cat-file --batch`` and the chosen value is cached per
(commit, metric, step) in the index.
"""

from __future__ import annotations

from .config import Config
from .errors import GitlogError
from .git import Repo
from .index import Index


def parse_step(text: str) -> str:
    """Validate ``--step``: last, min, max or a whole step number."""
    which = str(text).strip().lower()
    if which in ("last", "min", "max"):
        return which
    try:
        return str(int(which))
    except ValueError:
        raise GitlogError(f"bad --step {text!r}",
                          hint="use last, min, max or a step number such as 100") from None


def pick(data: bytes, which: str) -> float | None:
    """The value at ``which`` in a ``timestamp  step  value`` series."""
    from .layout import parse_number

    values: list[float] = []
    at: float | None = None
    target = int(which) if which not in ("last", "min", "max") else None
    for line in data.split(b"\n")[1:]:
        parts = line.split(b"\t")
        if len(parts) < 3:
            continue
        try:
            step, value = int(parts[1]), parse_number(parts[-1].decode())
        except ValueError:
            continue
        if target is None:
            values.append(value)
        elif step == target:
            at = value
    if target is not None:
        return at
    if not values:
        return None
    if which == "last":
        return values[-1]
    return min(values) if which == "min" else max(values)


def step_values(repo: Repo, config: Config, index: Index, commits: list[str],
                names: list[str], which: str) -> list[float | None]:
    """Per commit, the value at ``which`` of the first of ``names`` that has a series."""
    key = "|".join(names)
    cached = {c: v for (c, m), v in index.steps(which).items() if m == key}
    missing = [c for c in dict.fromkeys(commits) if c not in cached]
    if missing:
        specs = [f"{c}:{config.log_dir}/metrics/{name}.tsv" for c in missing for name in names]
        objects = repo.read_objects(specs).result()
        fresh: dict[str, float | None] = {}
        for i, commit in enumerate(missing):
            value = None
            for j in range(len(names)):
                got = objects[i * len(names) + j]
                if got is not None and got[0] == "blob":
                    value = pick(got[1], which)
                    break
            fresh[commit] = value
        index.put_steps(which, {(c, key): v for c, v in fresh.items()})
        cached.update(fresh)
    return [cached[c] for c in commits]
